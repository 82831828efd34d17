"""Encoder adapters, one module (or package) per encoder."""
