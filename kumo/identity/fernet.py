"""Token format: Fernet-encrypted payloads, with a key repository on disk.

A token carries everything needed to validate it (who, how, which scope,
when it expires, its audit id); validation never looks the token up, so its
cost does not grow with the number of tokens issued. Keys live in
``<data_dir>/fernet-keys`` as Keystone keeps them: ``0`` is the staged key,
the highest number is the primary (it encrypts), the others only decrypt.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet


FORMAT_VERSION = 1


class TokenInvalid(Exception):
    """The string is not a token this cloud issued (or its key has been rotated away)."""


@dataclass(frozen=True)
class TokenPayload:
    user_id: str
    methods: tuple[str, ...]
    issued_at: float  # unix seconds, with microseconds
    expires_at: float
    audit_ids: tuple[str, ...]
    project_id: str | None = None
    domain_id: str | None = None
    system: str | None = None  # "all" for a system-scoped token
    app_cred_id: str | None = None

    def pack(self) -> bytes:
        return orjson.dumps([
            FORMAT_VERSION, self.user_id, list(self.methods), self.issued_at, self.expires_at,
            list(self.audit_ids), self.project_id, self.domain_id, self.system, self.app_cred_id,
        ])

    @classmethod
    def unpack(cls, raw: bytes) -> "TokenPayload":
        fields = orjson.loads(raw)
        if not isinstance(fields, list) or not fields or fields[0] != FORMAT_VERSION:
            raise ValueError("unknown token format")
        (_, user_id, methods, issued_at, expires_at, audit_ids,
         project_id, domain_id, system, app_cred_id) = fields
        return cls(user_id, tuple(methods), issued_at, expires_at, tuple(audit_ids),
                   project_id, domain_id, system, app_cred_id)


def new_audit_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()


@dataclass
class KeyRepository:
    path: Path
    max_active_keys: int = 3
    _fernet: MultiFernet | None = field(default=None, repr=False)

    def setup(self) -> None:
        """Create the repository with a primary and a staged key if it is empty."""
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self._key_numbers():
            self._write(0, Fernet.generate_key())
            self.rotate()
        self.load()

    def rotate(self) -> int:
        """Promote the staged key to primary, stage a new key, drop the oldest beyond the limit."""
        numbers = self._key_numbers()
        new_primary = max(numbers) + 1
        os.replace(self.path / "0", self.path / str(new_primary))
        self._write(0, Fernet.generate_key())
        secondaries = sorted(n for n in self._key_numbers() if n not in (0, new_primary))
        excess = len(secondaries) + 2 - max(self.max_active_keys, 2)
        for number in secondaries[:max(excess, 0)]:
            (self.path / str(number)).unlink()
        self.load()
        return new_primary

    def load(self) -> None:
        numbers = sorted(self._key_numbers(), reverse=True)  # primary first, staged last
        keys = [Fernet((self.path / str(n)).read_bytes().strip()) for n in numbers if n != 0]
        keys.append(Fernet((self.path / "0").read_bytes().strip()))
        self._fernet = MultiFernet(keys)

    def encrypt(self, payload: TokenPayload) -> str:
        token = self._fernet.encrypt(payload.pack()).decode()
        return token.rstrip("=")  # padding is restored on decrypt; keeps tokens URL-safe

    def decrypt(self, token: str) -> TokenPayload:
        try:
            raw = self._fernet.decrypt((token + "=" * (-len(token) % 4)).encode())
            return TokenPayload.unpack(raw)
        except (InvalidToken, ValueError, TypeError, UnicodeError):
            raise TokenInvalid() from None

    def _key_numbers(self) -> list[int]:
        return [int(p.name) for p in self.path.iterdir() if p.name.isdigit()] if self.path.is_dir() else []

    def _write(self, number: int, key: bytes) -> None:
        target = self.path / str(number)
        tmp = self.path / f".{number}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        os.replace(tmp, target)
