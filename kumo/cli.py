"""``kumo``: serve the cloud, ask how it is, wipe it."""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import signal
import sys

from kumo import __version__, config


def _settings(args) -> config.Settings:
    return config.load({"port": getattr(args, "port", None), "data_dir": getattr(args, "data_dir", None),
                        "host": getattr(args, "host", None), "config": getattr(args, "config", None),
                        "log_level": getattr(args, "log_level", None),
                        "backend": getattr(args, "backend", None)})


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="state directory (env KUMO_DATA_DIR; default ./.kumo)")
    parser.add_argument("--port", type=int, help="port to listen on (env KUMO_PORT; default 5000)")
    parser.add_argument("--config", help="TOML settings file (env KUMO_CONFIG; default <data-dir>/kumo.toml)")


def cmd_serve(args) -> int:
    import logging
    import threading
    import time

    # What start-up makes lives as long as the process: no cyclic collection while it is made (many short
    # full collections), then it is kept out of the collector (shorter full collections while serving, and
    # no collection of it at exit, which took most of a second).
    gc.disable()
    settings = _settings(args)
    _limit_malloc_arenas()
    from kumo.logs import setup_logging
    setup_logging(settings.log_level)

    from kumo import clouds
    from kumo.app import Cloud, build_app
    from kumo.services import DECLARED

    cloud = Cloud(settings)
    # Identity answers as soon as its own part is ready (well under a second); the other services are
    # loaded and started (drivers, recovery, builtin images, the network agent) on a thread meanwhile:
    # a request to one of them waits until it serves, and /healthz says 200 only once all do.
    cloud.setup_identity()
    creds = cloud.first_start_credentials
    clouds_file = clouds.write(settings, creds.admin_password if creds else None,
                               creds.demo_password if creds else None)
    backend = cloud.backend
    (settings.data_dir / "kumo.pid").write_text(f"{os.getpid()}\n{settings.port}\n")
    print(f"Kumo {__version__} serving on {settings.base_url}", flush=True)
    print(f"  backend:     {backend.name} ({backend.reason})")
    print("  services:    " + "\n               ".join(
        f"{entry.type:<14} {settings.base_url}{entry.prefix}{entry.catalog_suffix}" for entry in DECLARED))
    print(f"  data dir:    {settings.data_dir.resolve()}  (database: {_redact(settings.database)})")
    if creds:
        print(f"  admin password (shown once, also in clouds.yaml): {creds.admin_password}")
    print("Point the openstack CLI at it:")
    print(f"  export OS_CLIENT_CONFIG_FILE={clouds_file}")
    print("  OS_CLOUD=kumo-admin openstack token issue    # or OS_CLOUD=kumo for the member 'demo'", flush=True)

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(
        build_app(cloud), host=settings.host, port=settings.port, log_config=None, access_log=False,
        log_level=settings.log_level, lifespan="off", server_header=False, ws="none", http=_http_protocol()))

    served = threading.Event()  # uvicorn has returned (stopped, or could not listen)

    def start_services():
        try:
            while not (server.started or server.should_exit or served.is_set()):  # listen first, then load
                time.sleep(0.005)
            if server.started and not server.should_exit:
                cloud.start_services()
        except BaseException:
            logging.getLogger("kumo").exception("the cloud failed to start")
            server.should_exit = True
        finally:
            gc.collect()
            gc.freeze()
            gc.enable()
            _trim_malloc()

    starter = threading.Thread(target=start_services, name="kumo-start", daemon=True)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it: with the default handler the process would
    # die right there, skipping the cleanup below (the pid file would stay). Make it an ordinary exit instead.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        starter.start()
        server.run()
    finally:
        served.set()
        starter.join()
        cloud.close()
        pid_file = settings.data_dir / "kumo.pid"
        if pid_file.exists() and pid_file.read_text().split("\n")[0] == str(os.getpid()):
            pid_file.unlink()
        logging.getLogger("kumo").info("stopped")
    return 0 if server.started and cloud.start_error is None else 1


def _http_protocol():
    """Kumo's HTTP protocol (each reply in one send), or uvicorn's choice without httptools."""
    try:
        from kumo.api.protocol import HttpProtocol
    except ImportError:
        return "auto"
    return HttpProtocol


def _exit_on_sigterm(signum, frame):
    raise SystemExit(0)


def _libc():
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def _limit_malloc_arenas() -> None:
    """Each thread that hashes a password (Argon2, ~19 MiB) would otherwise keep its own glibc arena
    of that size; two arenas keep the server's memory flat under concurrent logins. (A fixed mmap threshold
    would give each hash's 19 MiB back at once, but the page faults of mapping it anew make a hash cost 50%
    more CPU: 29 -> 44 ms here.)"""
    libc = _libc()
    if libc is not None:
        try:
            libc.mallopt(-8, 2)  # M_ARENA_MAX
        except AttributeError:
            pass


def _trim_malloc() -> None:
    """Give the heap that start-up freed back to the system (malloc_trim)."""
    libc = _libc()
    if libc is not None:
        try:
            libc.malloc_trim(0)
        except AttributeError:
            pass


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def cmd_status(args) -> int:
    from kumo.status import report

    settings = _settings(args)
    info = report(settings)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        state = ("up" if info.get("status", "ok") == "ok" else info["status"]) if info["up"] else "down"
        print(f"Kumo at {info['url']}: {state}")
        if info["up"]:
            print(f"  version {info['version']}, backend {info.get('backend', '?')}")
            print(f"  services: {', '.join(info.get('services', []))}")
        print(f"  data dir: {info['data_dir']}")
        for name, count in info.get("counts", {}).items():
            if isinstance(count, dict):  # by state: "servers: 3 (active 2, error 1)"
                count = f"{sum(count.values())}" + (f" ({', '.join(f'{k} {v}' for k, v in count.items())})"
                                                    if count else "")
            print(f"  {name}: {count}")
    return 0 if info["up"] else 1


def cmd_reset(args) -> int:
    settings = _settings(args)
    target = settings.data_dir.resolve()
    if not target.exists():
        print(f"Nothing to reset: {target} does not exist.")
        return 0
    pid_file = target / "kumo.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text().split()[0])
        if _alive(pid):
            print(f"Kumo is running (pid {pid}) on this data directory; stop it first.", file=sys.stderr)
            return 1
    if not args.yes:
        if not sys.stdin.isatty():
            print("Refusing to wipe without confirmation; pass --yes.", file=sys.stderr)
            return 1
        answer = input(f"Delete everything under {target}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing deleted.")
            return 1
    from kumo import backends
    backends.cleanup(settings)
    shutil.rmtree(target)
    print(f"Wiped {target}.")
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def cmd_version(args) -> int:
    print(f"kumo {__version__}")
    return 0


def cmd_rotate_keys(args) -> int:
    from kumo.identity.fernet import KeyRepository

    settings = _settings(args)
    repo = KeyRepository(settings.data_dir / "fernet-keys", settings.max_active_keys)
    repo.setup()
    number = repo.rotate()
    print(f"Key {number} is now primary; restart Kumo (or wait for it to notice) to use it.")
    return 0


def cmd_sfc_trace(args) -> int:
    from kumo.db import Database
    from kumo.network.sfc import steering, trace

    settings = _settings(args)
    try:
        (src, sport), (dst, dport) = trace.endpoint(args.src), trace.endpoint(args.dst)
    except ValueError as exc:
        print(f"kumo: {exc}", file=sys.stderr)
        return 2
    db = Database(settings.database)
    try:
        with db.session(write=False) as session:
            report = trace.explain(session, args.source_port, steering.Flow(args.protocol, src, sport, dst, dport))
    except LookupError as exc:
        print(f"kumo: {exc}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    if args.live:  # the data plane's own counters, in the agent's host namespace
        from kumo.network.agent import names, sfc
        trace.confirm(report, sfc.counters(names.host_namespace(settings.data_dir.resolve(), args.host)))
    print(json.dumps(report, indent=2) if args.json else trace.render(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kumo", description="Kumo: an OpenStack-compatible cloud in a box.")
    parser.add_argument("--version", action="version", version=f"kumo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="start the cloud in the foreground")
    _common(serve)
    serve.add_argument("--host", help="address to listen on (env KUMO_HOST; default 127.0.0.1)")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--backend", choices=["auto", "local", "simulated"], help="compute/network backend")
    serve.set_defaults(func=cmd_serve)

    status = sub.add_parser("status", help="is it up, where, which services, how many resources")
    _common(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_status)

    reset = sub.add_parser("reset", help="wipe a data directory (asks first)")
    _common(reset)
    reset.add_argument("--yes", "-y", action="store_true", help="do not ask")
    reset.set_defaults(func=cmd_reset)

    rotate = sub.add_parser("rotate-keys", help="rotate the token encryption keys")
    _common(rotate)
    rotate.set_defaults(func=cmd_rotate_keys)

    sfc = sub.add_parser("sfc", help="service function chaining").add_subparsers(dest="sfc", metavar="SUBCOMMAND")
    sfc_trace = sfc.add_parser("trace", help="the hops a flow takes through the port chains"
                               " (--live: confirmed by the data plane's counters)")
    _common(sfc_trace)
    sfc_trace.add_argument("--source-port", required=True, help="the port the flow is sent from")
    sfc_trace.add_argument("protocol", choices=["tcp", "udp", "icmp"])
    sfc_trace.add_argument("src", help="source address[:port], e.g. 10.0.0.5:40000")
    sfc_trace.add_argument("dst", help="destination address[:port], e.g. 10.0.0.9:80")
    sfc_trace.add_argument("--live", action="store_true", help="confirm each hop from the nft counters (root)")
    sfc_trace.add_argument("--host", default="kumo", help="the network agent's host id (default kumo)")
    sfc_trace.add_argument("--json", action="store_true", help="machine-readable output")
    sfc_trace.set_defaults(func=cmd_sfc_trace)

    version = sub.add_parser("version", help="print the version")
    version.set_defaults(func=cmd_version)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except ValueError as exc:  # bad settings
        print(f"kumo: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
