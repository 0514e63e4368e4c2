"""Tempest and neutron-tempest-plugin in their own venv (``.interop/venv``), installed from PyPI with pip."""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
import sys
from pathlib import Path

PINS = {"tempest": "47.0.0", "neutron-tempest-plugin": "3.3.0"}

_VERSIONS = ("import importlib.metadata as m\n"
             "for name in {names!r}:\n"
             "    try: print(name, m.version(name))\n"
             "    except m.PackageNotFoundError: print(name, '-')\n")


def installed(venv: Path) -> dict[str, str]:
    """The versions of the pinned packages found in ``venv`` (``{}`` when there is no usable venv)."""
    python = venv / "bin" / "python"
    if not python.exists():
        return {}
    proc = subprocess.run([str(python), "-c", _VERSIONS.format(names=list(PINS))],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return {}
    return dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)


@contextlib.contextmanager
def locked(path: Path, log=print, waiting: str = ""):
    """Hold an exclusive lock on ``path`` (runs from several shells share ``.interop``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting:
                log(waiting)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _ready(venv: Path) -> bool:
    """A finished install of the pins (the marker is written last, so a half-done install is not ready)."""
    marker = venv / ".kumo-interop-pins"
    return marker.exists() and marker.read_text() == repr(PINS) and installed(venv) == PINS


def ensure(venv: Path, log=print) -> Path:
    """Make sure ``venv`` holds exactly the pinned versions; return its ``bin`` directory."""
    if _ready(venv):
        return venv / "bin"
    with locked(venv.parent / f"{venv.name}.lock", log, "interop: waiting for another install to finish"):
        if not _ready(venv):
            _install(venv, log)
            (venv / ".kumo-interop-pins").write_text(repr(PINS))
    return venv / "bin"


def _install(venv: Path, log) -> None:
    if not (venv / "bin" / "python").exists():
        log(f"interop: creating {venv}")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    specs = [f"{name}=={version}" for name, version in PINS.items()]
    log(f"interop: installing {' '.join(specs)} into {venv} (a few minutes the first time)")
    log_path = venv / "pip-install.log"
    with log_path.open("w") as out:
        proc = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                               *specs], stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"interop: pip install failed (full log: {log_path}):\n{tail}")
    found = installed(venv)
    if found != PINS:
        raise RuntimeError(f"interop: {venv} holds {found}, expected {PINS}")
