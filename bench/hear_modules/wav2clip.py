"""HEAR module for bench's ``wav2clip``: ``hear-validator bench.hear_modules.wav2clip``.

See :mod:`bench.hear_export`.
"""

from bench.hear_export import make_api

load_model, get_scene_embeddings, get_timestamp_embeddings = make_api("wav2clip")
