import base64
import time
from pathlib import Path

import jwt
import pytest

from champion.auth import (
    KeyToken,
    issue_token,
    load_signing_key,
    matches_secret,
    parse_authorization,
    verify_key_token,
    verify_token,
)
from champion.errors import Unauthenticated


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "Token"])
def test_bearer_and_token_forms(scheme: str) -> None:
    credential = parse_authorization(f"{scheme} chp_abc.def")
    assert credential.secret == "chp_abc.def"
    assert credential.user_name is None


@pytest.mark.parametrize("scheme", ["Basic", "ZenApiKey"])
def test_user_and_key_forms(scheme: str) -> None:
    encoded = base64.b64encode(b"alice:chp_abc.def").decode()
    credential = parse_authorization(f"{scheme} {encoded}")
    assert (credential.user_name, credential.secret) == ("alice", "chp_abc.def")


def test_bare_basic_token_is_a_secret() -> None:
    # The WML client sends a token without a "." as Basic <token>.
    assert parse_authorization("Basic sometoken").secret == "sometoken"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Digest abc"])
def test_missing_or_unsupported_credentials(header: str | None) -> None:
    with pytest.raises(Unauthenticated):
        parse_authorization(header)


def test_token_round_trip() -> None:
    token = issue_token(user_id="u1", user_name="alice", key="k" * 32, ttl_seconds=60)
    claims = verify_token(token, key="k" * 32)
    assert claims["sub"] == "u1"
    assert claims["exp"] > time.time()
    assert parse_authorization(f"Bearer {token}").is_jwt


def test_expired_token_is_refused() -> None:
    token = issue_token(user_id="u1", user_name="alice", key="k" * 32, ttl_seconds=-10)
    with pytest.raises(Unauthenticated, match="expired"):
        verify_token(token, key="k" * 32)


def test_token_signed_with_another_key_is_refused() -> None:
    token = issue_token(user_id="u1", user_name="alice", key="a" * 32, ttl_seconds=60)
    with pytest.raises(Unauthenticated, match="not valid"):
        verify_token(token, key="b" * 32)


def test_tampered_token_is_refused() -> None:
    token = issue_token(user_id="u1", user_name="alice", key="k" * 32, ttl_seconds=60)
    forged = jwt.encode({"sub": "admin", "exp": time.time() + 60, "iss": "champion"}, "g" * 32, algorithm="HS256")
    assert forged != token
    with pytest.raises(Unauthenticated):
        verify_token(forged, key="k" * 32)


def test_signing_key_is_generated_once_and_private(tmp_path: Path) -> None:
    first = load_signing_key(tmp_path, None)
    assert load_signing_key(tmp_path, None) == first
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0
    assert load_signing_key(tmp_path, "configured") == "configured"


def test_a_token_names_the_key_it_was_issued_for() -> None:
    token = issue_token(user_id="u1", user_name="alice", key="k" * 32, ttl_seconds=60, key_id="key-1")
    assert verify_key_token(token, key="k" * 32) == KeyToken(user_id="u1", key_id="key-1")


def test_a_token_naming_no_key_is_refused_so_the_client_authorizes_again() -> None:
    """Issued before tokens named their key: it cannot die with one, so it is not accepted at all."""
    token = issue_token(user_id="u1", user_name="alice", key="k" * 32, ttl_seconds=60)
    with pytest.raises(Unauthenticated, match="authorize again"):
        verify_key_token(token, key="k" * 32)


def test_a_token_for_one_purpose_is_no_access_token() -> None:
    token = issue_token(
        user_id="u1", user_name="alice", key="k" * 32, ttl_seconds=60, audience="attachment:a:b", key_id="key-1"
    )
    with pytest.raises(Unauthenticated, match="not valid"):
        verify_key_token(token, key="k" * 32)
    assert verify_key_token(token, key="k" * 32, audience="attachment:a:b").key_id == "key-1"


def test_a_secret_matches_only_the_configured_one() -> None:
    assert matches_secret("scrape-0123456789abcdef", "scrape-0123456789abcdef")
    assert not matches_secret("scrape-0123456789abcdeX", "scrape-0123456789abcdef")
    assert not matches_secret("", "scrape-0123456789abcdef")
    assert not matches_secret("anything", None)
