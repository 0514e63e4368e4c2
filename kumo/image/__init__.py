"""Glance v2: images, their data in a content-addressed store, tags, members; the busybox images."""
