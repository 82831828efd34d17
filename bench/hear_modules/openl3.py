"""HEAR module for bench's ``openl3``: ``hear-validator bench.hear_modules.openl3`` (see :mod:`bench.hear_export`)."""

from bench.hear_export import make_api

load_model, get_scene_embeddings, get_timestamp_embeddings = make_api("openl3")
