"""Token encryption: the key repository on disk, rotation, tampering."""

from __future__ import annotations

import base64
import stat
import time

import pytest

from kumo.identity.fernet import KeyRepository, TokenInvalid, TokenPayload, new_audit_id


def payload(**kw) -> TokenPayload:
    now = time.time()
    fields = dict(user_id="u" * 32, methods=("password",), issued_at=now, expires_at=now + 3600,
                  audit_ids=(new_audit_id(),), project_id="p" * 32)
    fields.update(kw)
    return TokenPayload(**fields)


@pytest.fixture
def repo(tmp_path):
    keys = KeyRepository(tmp_path / "fernet-keys", max_active_keys=3)
    keys.setup()
    return keys


def test_setup_makes_a_staged_and_a_primary_key_private_to_the_owner(repo):
    assert sorted(p.name for p in repo.path.iterdir()) == ["0", "1"]
    assert stat.S_IMODE(repo.path.stat().st_mode) == 0o700
    for key in repo.path.iterdir():
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert len(base64.urlsafe_b64decode(key.read_bytes())) == 32
    before = {p.name: p.read_bytes() for p in repo.path.iterdir()}
    repo.setup()  # idempotent: an existing repository is kept
    assert {p.name: p.read_bytes() for p in repo.path.iterdir()} == before


def test_round_trip_of_every_scope(repo):
    for data in (payload(), payload(project_id=None), payload(project_id=None, domain_id="default"),
                 payload(project_id=None, system="all"), payload(app_cred_id="c" * 32),
                 payload(methods=("token", "password"), audit_ids=(new_audit_id(), new_audit_id()))):
        token = repo.encrypt(data)
        assert "=" not in token and len(token) < 400  # URL-safe, short enough for a header
        assert repo.decrypt(token) == data


def test_rotation_keeps_old_tokens_valid_until_their_key_is_dropped(repo):
    token = repo.encrypt(payload())
    assert repo.rotate() == 2  # the staged key becomes primary; key 1 only decrypts now
    assert repo.decrypt(token).user_id == "u" * 32
    newer = repo.encrypt(payload(user_id="v" * 32))
    assert repo.rotate() == 3  # 3 active keys at most: 0 (staged), 3 (primary), 2; key 1 is dropped
    assert sorted(int(p.name) for p in repo.path.iterdir()) == [0, 2, 3]
    with pytest.raises(TokenInvalid):
        repo.decrypt(token)
    assert repo.decrypt(newer).user_id == "v" * 32


def test_a_token_from_the_staged_key_is_accepted(repo, tmp_path):
    """Another node that already promoted our staged key issues tokens we must accept."""
    other = KeyRepository(tmp_path / "other", 3)
    other.setup()
    (other.path / "1").write_bytes((repo.path / "0").read_bytes())
    other.load()
    assert repo.decrypt(other.encrypt(payload())).project_id == "p" * 32


def test_another_process_reading_the_same_keys_decrypts(repo):
    token = repo.encrypt(payload())
    same = KeyRepository(repo.path, 3)
    same.load()
    assert same.decrypt(token) == repo.decrypt(token)


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-5] + ("A" if t[-5] != "A" else "B") + t[-4:],  # in the signature
    lambda t: t[:40] + ("x" if t[40] != "x" else "y") + t[41:],  # in the ciphertext
    lambda t: t[:-8],  # truncated
    lambda t: t + "AAAA",  # extended
    lambda t: "",
    lambda t: "not a token at all",
    lambda t: "gAAAAA" + "=" * 100,
    lambda t: t.upper(),
    lambda t: "é" + t,
])
def test_tampered_tokens_are_rejected(repo, mangle):
    token = repo.encrypt(payload())
    with pytest.raises(TokenInvalid):
        repo.decrypt(mangle(token))


def test_a_token_of_another_cloud_is_rejected(repo, tmp_path):
    other = KeyRepository(tmp_path / "other", 3)
    other.setup()
    with pytest.raises(TokenInvalid):
        repo.decrypt(other.encrypt(payload()))


def test_an_unknown_payload_format_is_rejected(repo):
    from cryptography.fernet import Fernet

    primary = Fernet((repo.path / "1").read_bytes())
    for raw in (b'[2, "u"]', b"{}", b"not json", b"[1]"):
        with pytest.raises(TokenInvalid):
            repo.decrypt(primary.encrypt(raw).decode().rstrip("="))
