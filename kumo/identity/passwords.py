"""Password hashing with Argon2id (argon2-cffi)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Hasher:
    def __init__(self, time_cost: int = 2, memory_kib: int = 19456):
        self._ph = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)

    def hash(self, secret: str) -> str:
        return self._ph.hash(secret)

    def verify(self, hashed: str, secret: str) -> bool:
        try:
            return self._ph.verify(hashed, secret)
        except (VerificationError, InvalidHashError):
            return False
