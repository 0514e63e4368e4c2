"""``python -m interop.run SUITE``: run a slice of the required Tempest list against a Kumo.

Installs Tempest into ``.interop/venv`` (once), starts a Kumo in a temporary data dir (or targets the one
named by ``KUMO_URL`` and ``KUMO_ADMIN_PASSWORD``), writes ``tempest.conf`` from what that cloud holds, runs
the slice, and ends with ``N passed, N failed, N skipped``. Exit status 1 when anything failed.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from interop import discover, install, lists, results, tempest_conf

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".interop"
PROGRESS = re.compile(r"^\{\d+\} ")  # subunit-trace's line per finished test


def log(message: str) -> None:
    print(message, flush=True)


def workspace(bin_dir: Path, path: Path) -> Path:
    """A tempest workspace, registered in ``<path>.workspace.yaml`` and seeded from an empty config dir
    (``tempest init`` would otherwise create and read ``~/.tempest``)."""
    if not (path / ".stestr.conf").exists():
        shutil.rmtree(path, ignore_errors=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        seed = WORK / "tempest-etc"
        seed.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(bin_dir / "tempest"), "init", "--workspace-path",
                        str(path.parent / f"{path.name}.workspace.yaml"), "--config-dir", str(seed), str(path)],
                       check=True, capture_output=True)
    return path


def security_settings() -> dict[str, int]:
    """The lockout and password-history values the started Kumo runs with (tempest must agree)."""
    from kumo.testing import INTEROP_SETTINGS

    return {"lockout_failure_attempts": int(INTEROP_SETTINGS["KUMO_LOCKOUT_FAILURE_ATTEMPTS"]),
            "lockout_duration": int(INTEROP_SETTINGS["KUMO_LOCKOUT_DURATION"]),
            "unique_last_password_count": int(INTEROP_SETTINGS["KUMO_UNIQUE_LAST_PASSWORD_COUNT"])}


def free_public_cidr() -> str:
    """A /24 of 172.24.0.0/16 that no address of this host's namespace overlaps, picked at random (two runs
    at once rarely pick the same; the cloud refuses to expose a range already on the host anyway)."""
    proc = subprocess.run(["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True, timeout=10,
                          check=False)
    used = [ipaddress.ip_network(f"{a['local']}/{a['prefixlen']}", strict=False)
            for link in json.loads(proc.stdout or "[]") for a in link.get("addr_info", [])]
    free = [net for net in (ipaddress.ip_network(f"172.24.{n}.0/24") for n in range(16, 255))
            if not any(net.overlaps(u) for u in used)]
    if not free:
        raise SystemExit("interop: no free /24 in 172.24.0.0/16 for the external network")
    return str(random.choice(free))


def _images_have_ssh() -> bool:
    """The builtin images carry an SSH server when the host has Debian's dropbear-bin (scripts/setup.sh)."""
    from kumo.image.busybox import DROPBEAR

    if DROPBEAR.is_file():
        return True
    log("interop: no dropbear on this host (scripts/setup.sh installs it): the images have no SSH server,"
        " so Tempest's validation stays off")
    return False


def _backend(url: str) -> str | None:
    with contextlib.suppress(OSError, ValueError):
        with urllib.request.urlopen(url + "/healthz", timeout=5) as resp:
            return json.load(resp).get("backend")
    return None


@contextlib.contextmanager
def kumo(keep_log: Path | None = None):
    """``(base_url, admin_password, validation)`` of the cloud under test; a Kumo of our own unless KUMO_URL
    is set (its log is kept at ``keep_log``). ``validation``: servers' floating IPs are reachable from here —
    our own Kumo on the local backend, its external network (a free range) exposed on the host; a Kumo at
    KUMO_URL when KUMO_RUN_VALIDATION=1 says so."""
    if os.environ.get("KUMO_URL"):
        password = os.environ.get("KUMO_ADMIN_PASSWORD")
        if not password:
            raise SystemExit("interop: KUMO_URL is set but KUMO_ADMIN_PASSWORD is not")
        log(f"interop: targeting the running Kumo at {os.environ['KUMO_URL']}")
        yield os.environ["KUMO_URL"].rstrip("/"), password, os.environ.get("KUMO_RUN_VALIDATION") == "1"
        return
    from kumo import testing

    data_dir = Path(tempfile.mkdtemp(prefix="kumo-interop-"))
    server = None
    env = dict(testing.INTEROP_SETTINGS)
    if os.geteuid() == 0:
        env.update(KUMO_PUBLIC_CIDR=free_public_cidr(), KUMO_EXPOSE_PUBLIC_NETWORK="true")
    try:
        log("interop: starting Kumo")
        server = testing.start(data_dir, env=env)
        validation = os.geteuid() == 0 and _backend(server.url) == "local" and _images_have_ssh()
        log(f"interop: Kumo is up at {server.url} (data in {data_dir})"
            + (f"; its external network {env['KUMO_PUBLIC_CIDR']} is reachable from here" if validation else ""))
        yield server.url, server.password(), validation
    finally:
        if server is not None:
            server.stop()
            with contextlib.suppress(OSError):
                shutil.copyfile(server.log_path, keep_log or WORK / "kumo.log")
            testing.wipe(data_dir, env)  # instances, mounts, loop devices, namespaces too
        shutil.rmtree(data_dir, ignore_errors=True)


def run_tempest(bin_dir: Path, ws: Path, tests: list[str], concurrency: int) -> None:
    # Anchored regexes on the ids without their attributes: Tempest drops some tags depending on the
    # configuration (``slow`` when validation is off), so exact --load-list ids would miss those tests.
    include_list = ws / "include-list"
    include_list.write_text("".join(f"^{re.escape(results.base_id(t))}\\[\n" for t in tests))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "TEMPEST_"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", PYTHON=str(bin_dir / "python"),
               TEMPEST_CONFIG_DIR=str(ws / "etc"), TEMPEST_CONFIG="tempest.conf")
    log(f"interop: running {len(tests)} tests (concurrency {concurrency}); full output in {ws / 'run.log'}")
    with (ws / "run.log").open("w") as out:
        proc = subprocess.Popen([str(bin_dir / "tempest"), "run", "--include-list", str(include_list),
                                 "--concurrency", str(concurrency)], cwd=ws, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            for line in proc.stdout:
                out.write(line)
                if PROGRESS.match(line):
                    log("  " + line.rstrip())
            proc.wait()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m interop.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("suite", choices=lists.SUITES)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--filter", metavar="REGEX", help="run only the slice's tests matching REGEX")
    args = parser.parse_args(argv)
    # SIGTERM (CI cancelling) unwinds like Ctrl-C, so the Kumo we started is always stopped
    signal.signal(signal.SIGTERM, _interrupt)

    tests = lists.select(args.suite)
    if args.filter:
        tests = [test for test in tests if re.search(args.filter, test)]
        if not tests:
            raise SystemExit(f"interop: no {args.suite} test matches {args.filter!r}")
    started = time.monotonic()
    WORK.mkdir(exist_ok=True)
    bin_dir = install.ensure(WORK / "venv", log=log)
    installed = time.monotonic()
    # one workspace per suite; runs of the same suite from several shells take turns
    with install.locked(WORK / "runs" / f"{args.suite}.lock", log,
                        f"interop: waiting for another {args.suite} run to finish"):
        ws = workspace(bin_dir, WORK / "runs" / args.suite)
        with kumo(keep_log=ws / "kumo.log") as (url, password, validation):
            facts = discover.facts(url + "/identity/v3", password, **security_settings())
            facts.run_validation = validation
            (ws / "etc" / "tempest.conf").write_text(tempest_conf.render(facts, ws))
            log(f"interop: wrote {ws / 'etc' / 'tempest.conf'} (services: {', '.join(sorted(facts.types()))})")
            runs_before = results.runs_so_far(ws)
            run_tempest(bin_dir, ws, tests, args.concurrency)
        outcome = results.collect(bin_dir, ws, tests, runs_before)
    done = time.monotonic()
    for line in outcome.report():
        print(line)
    print(f"interop: {args.suite} took {done - installed:.0f}s ({done - started:.0f}s with the install check)")
    print(outcome.summary())
    return 1 if outcome.failed or outcome.errors else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interop: interrupted", file=sys.stderr)
        sys.exit(130)
