"""Task declarations and loaders for the real on-disk layouts (see docs/datasets.md)."""
