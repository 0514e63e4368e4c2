"""Readable, one-line logs: time, level, logger, message (access lines carry the request id)."""

import logging
import sys


def setup_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
