"""The interop harness: run slices of the required Tempest list against a Kumo (``make interop SUITE=...``)."""
