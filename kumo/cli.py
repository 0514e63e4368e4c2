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

    import uvicorn

    from kumo import clouds
    from kumo.app import Cloud, build_app, services
    from kumo.logs import setup_logging

    settings = _settings(args)
    _limit_malloc_arenas()
    setup_logging(settings.log_level)
    cloud = Cloud(settings)
    cloud.setup()
    creds = cloud.first_start_credentials
    clouds_file = clouds.write(settings, creds.admin_password if creds else None,
                               creds.demo_password if creds else None)
    backend = cloud.backend
    (settings.data_dir / "kumo.pid").write_text(f"{os.getpid()}\n{settings.port}\n")
    print(f"Kumo {__version__} serving on {settings.base_url}", flush=True)
    print(f"  backend:     {backend.name} ({backend.reason})")
    print("  services:    " + "\n               ".join(
        f"{service.type:<14} {settings.base_url}{service.prefix}{service.catalog_suffix}"
        for service in services()))
    print(f"  data dir:    {settings.data_dir.resolve()}  (database: {_redact(settings.database)})")
    if creds:
        print(f"  admin password (shown once, also in clouds.yaml): {creds.admin_password}")
    print("Point the openstack CLI at it:")
    print(f"  export OS_CLIENT_CONFIG_FILE={clouds_file}")
    print("  OS_CLOUD=kumo-admin openstack token issue    # or OS_CLOUD=kumo for the member 'demo'", flush=True)
    app = build_app(cloud)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it: with the default handler the process would
    # die right there, skipping the cleanup below (the pid file would stay). Make it an ordinary exit instead.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # What start-up made lives as long as the process: keep it out of the cyclic garbage collector (shorter
    # full collections while serving, and no collection of it at exit, which took most of a second).
    gc.freeze()
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False,
                    log_level=settings.log_level, lifespan="off", server_header=False)
    finally:
        cloud.close()
        pid_file = settings.data_dir / "kumo.pid"
        if pid_file.exists() and pid_file.read_text().split("\n")[0] == str(os.getpid()):
            pid_file.unlink()
        logging.getLogger("kumo").info("stopped")
    return 0


def _exit_on_sigterm(signum, frame):
    raise SystemExit(0)


def _limit_malloc_arenas() -> None:
    """Each thread that hashes a password (Argon2, ~19 MiB) would otherwise keep its own glibc arena
    of that size; two arenas keep the server's memory flat under concurrent logins."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name:
        try:
            ctypes.CDLL(name).mallopt(-8, 2)  # M_ARENA_MAX
        except (OSError, AttributeError):
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
        print(f"Kumo at {info['url']}: {'up' if info['up'] else 'down'}")
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
