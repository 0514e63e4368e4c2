"""Kumo: an OpenStack-compatible cloud in a box."""

__version__ = "0.1.0"
