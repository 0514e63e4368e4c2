"""Key pairs: generated (the private key is returned once) or imported; ssh or x509."""

from __future__ import annotations

import base64
import hashlib

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.orm import Session

from kumo.compute import limits
from kumo.compute.models import KeyPair
from kumo.db.pagination import paginate
from kumo.errors import BadRequest, Conflict, NotFound


def _ssh_fingerprint(public_key: str) -> str:
    try:
        key = serialization.load_ssh_public_key(public_key.strip().encode())
    except Exception:  # noqa: BLE001 — malformed, or an algorithm the library does not know
        raise BadRequest("Keypair data is invalid: failed to generate fingerprint") from None
    raw = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    digest = hashlib.md5(base64.b64decode(raw.split()[1])).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))


def _x509_fingerprint(public_key: str) -> str:
    try:
        cert = x509.load_pem_x509_certificate(public_key.encode())
    except Exception:  # noqa: BLE001
        raise BadRequest("Keypair data is invalid: failed to generate fingerprint") from None
    digest = cert.fingerprint(hashes.SHA1()).hex()
    return ":".join(digest[i:i + 2] for i in range(0, 40, 2))


def fingerprint(public_key: str, key_type: str = "ssh") -> str:
    return _x509_fingerprint(public_key) if key_type == "x509" else _ssh_fingerprint(public_key)


def _generate(name: str, key_type: str) -> tuple[str, str]:
    """A new key: (public, private) in OpenSSH / PEM form."""
    if key_type == "x509":
        import datetime

        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(private.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
                .sign(private, hashes.SHA256()))
        public = cert.public_bytes(serialization.Encoding.PEM).decode()
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        return public, pem
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH).decode()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    return f"{public} Generated-by-Kumo", pem



def create(db: Session, *, user_id: str, project_id: str, name: str, key_type: str = "ssh",
           public_key: str | None = None) -> tuple[KeyPair, str | None]:
    """Create or import; returns the keypair and the private key (None when imported)."""
    limits.check_key_pairs(db, project_id, user_id)
    if db.scalar(sa.select(KeyPair.id).where(KeyPair.user_id == user_id, KeyPair.name == name)) is not None:
        raise Conflict(f"Key pair '{name}' already exists.")
    private = None
    if public_key is None:
        public_key, private = _generate(name, key_type)
    keypair = KeyPair(user_id=user_id, name=name, type=key_type, public_key=public_key,
                      fingerprint=fingerprint(public_key, key_type))
    db.add(keypair)
    db.flush()
    return keypair, private


def get(db: Session, user_id: str, name: str) -> KeyPair:
    keypair = db.scalar(sa.select(KeyPair).where(KeyPair.user_id == user_id, KeyPair.name == name))
    if keypair is None:
        raise NotFound(f"Keypair {name} not found for user {user_id}")
    return keypair


def list_(db: Session, user_id: str, limit: int | None = None, marker: str | None = None) -> list[KeyPair]:
    query = sa.select(KeyPair).where(KeyPair.user_id == user_id)
    marker_id = None
    if marker is not None:
        row = db.scalar(sa.select(KeyPair).where(KeyPair.user_id == user_id, KeyPair.name == marker))
        if row is None:
            raise BadRequest(f"marker [{marker}] not found")
        marker_id = row.id
    columns = {"name": KeyPair.name, "id": KeyPair.id}
    return paginate(db, query, KeyPair, columns, [("name", False)], limit, marker_id)


def delete(db: Session, user_id: str, name: str) -> None:
    db.delete(get(db, user_id, name))
    db.flush()
