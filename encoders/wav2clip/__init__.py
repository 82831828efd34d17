"""Wav2CLIP: the audio model, the released checkpoint, the CLIP teacher and distillation."""
