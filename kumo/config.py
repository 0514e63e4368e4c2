"""One configuration system: defaults < file < environment < command-line flags.

The file is TOML (``--config``/``KUMO_CONFIG``, else ``<data_dir>/kumo.toml``
when present); every setting is also ``KUMO_<NAME>`` in the environment.
Sections in the file are only for reading comfort: ``[security_compliance]
lockout_failure_attempts = 2`` and a top-level ``lockout_failure_attempts``
mean the same.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    # server
    host: str = "127.0.0.1"
    port: int = 5000
    data_dir: Path = field(default_factory=lambda: Path(".kumo"))
    public_url: str = ""  # base URL put in the catalog; derived from host and port when empty
    database_url: str = ""  # SQLAlchemy URL; SQLite under data_dir when empty
    log_level: str = "info"
    backend: str = "auto"  # auto | local | simulated
    region: str = "RegionOne"
    # networking
    public_cidr: str = "172.24.4.0/24"  # the external network "public" made at first start
    expose_public_network: bool = False  # reach its floating IPs from the host (a veth holding its gateway)
    # compute: seconds a build waits for its ports to be plugged before ACTIVE (Nova's vif_plugging_timeout;
    # going ACTIVE anyway after it, as with vif_plugging_is_fatal = False); 0: ACTIVE without waiting
    vif_plugging_timeout: int = 30
    compute_warm_pool: int = 4  # instance shells the local backend keeps ready for first boots; 0: none
    # identity
    token_expiration: int = 3600  # seconds
    max_active_keys: int = 3  # fernet keys kept on rotation
    password_hash_time_cost: int = 2
    password_hash_memory_kib: int = 19456
    # security compliance (Keystone's [security_compliance]); 0 disables each
    lockout_failure_attempts: int = 0
    lockout_duration: int = 1800
    unique_last_password_count: int = 0
    minimum_password_age: int = 0  # days
    password_expires_days: int = 0
    password_regex: str = ""
    password_regex_description: str = ""
    # request limits
    max_request_body_size: int = 114688  # Keystone's default, bytes

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'kumo.db').resolve()}"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"


FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _coerce(name: str, value):
    kind = FIELDS[name].type
    if kind == "int":
        return int(value)
    if kind == "bool":
        return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
    if kind == "Path":
        return Path(value).expanduser()
    return str(value)


def _flatten(table: dict) -> dict:
    flat = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value))
        else:
            flat[key] = value
    return flat


def load(overrides: dict | None = None, environ: dict | None = None) -> Settings:
    """Build settings from defaults, the config file, ``KUMO_*`` variables and ``overrides``."""
    environ = os.environ if environ is None else environ
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    from_env = {
        name: environ[f"KUMO_{name.upper()}"] for name in FIELDS if f"KUMO_{name.upper()}" in environ
    }
    data_dir = Path(overrides.get("data_dir") or from_env.get("data_dir") or ".kumo").expanduser()
    config_file = overrides.pop("config", None) or environ.get("KUMO_CONFIG")
    path = Path(config_file) if config_file else data_dir / "kumo.toml"
    from_file = {}
    if path.is_file():
        with path.open("rb") as fh:
            from_file = _flatten(tomllib.load(fh))
        unknown = set(from_file) - set(FIELDS)
        if unknown:
            raise ValueError(f"{path}: unknown settings: {', '.join(sorted(unknown))}")
    elif config_file:
        raise ValueError(f"config file not found: {path}")
    values = {}
    for layer in (from_file, from_env, overrides):
        for name, value in layer.items():
            values[name] = _coerce(name, value)
    return Settings(**values)
