"""The target test lists and the slices ``SUITE`` selects from them."""

from __future__ import annotations

from pathlib import Path

DIR = Path(__file__).parent / "lists"
SERVICES = ("identity", "compute", "image", "network", "volume")
SUITES = (*SERVICES, "all", "trunk-sfc")


def read(name: str) -> list[str]:
    """The test ids of ``lists/<name>.load-list`` (blank lines and ``#`` comments dropped)."""
    lines = (DIR / f"{name}.load-list").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def select(suite: str) -> list[str]:
    """The exact Tempest ids a suite runs."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}: choose one of {', '.join(SUITES)}")
    if suite == "trunk-sfc":
        return read("trunk-sfc")
    required = read("required")
    if suite == "all":
        return required
    return [test for test in required if test.startswith(f"tempest.api.{suite}.")]
