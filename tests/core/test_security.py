import uuid
from datetime import UTC, datetime, timedelta

import pytest

from core.config import Settings
from core.errors import InvalidTokenError
from core.security import TokenCodec, hash_password, hash_token, verify_password

SECRET = "unit-test-secret-" * 4


def test_password_hashes_are_argon2_and_verify() -> None:
    stored = hash_password("a good passphrase")
    assert stored.startswith("$argon2id$")
    assert verify_password("a good passphrase", stored) == (True, None)
    assert verify_password("a bad passphrase", stored)[0] is False
    assert verify_password("anything", None) == (False, None)


def test_tokens_round_trip_with_all_claims() -> None:
    codec = TokenCodec(Settings(jwt_secret=SECRET))
    user, family = uuid.uuid4(), uuid.uuid4()
    token, issued = codec.issue(user, "refresh", family_id=family)
    decoded = codec.decode(token, "refresh")
    assert decoded == issued
    assert decoded.expires_at - decoded.issued_at == timedelta(days=30)


def test_expiry_follows_settings() -> None:
    codec = TokenCodec(Settings(jwt_secret=SECRET, access_token_ttl_seconds=60))
    past = datetime.now(UTC) - timedelta(minutes=2)
    token, _ = codec.issue(uuid.uuid4(), "access", now=past)
    with pytest.raises(InvalidTokenError, match="expired"):
        codec.decode(token, "access")


def test_token_digest_is_stable_and_not_the_token() -> None:
    assert hash_token("abc") == hash_token("abc")
    assert hash_token("abc") != hash_token("abd")
    assert "abc" not in hash_token("abc")
