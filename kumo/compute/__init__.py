"""Compute: Nova v2.1."""
