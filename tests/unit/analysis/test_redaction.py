from __future__ import annotations

import time

import pytest

from shared.redaction import MASK, redact, redact_text
from tests.unit.analysis.secrets_corpus import PASSWORD, SECRETS, all_secret_values, text_with_all_secrets


@pytest.mark.parametrize(("name", "text", "secret"), SECRETS, ids=[s[0] for s in SECRETS])
def test_each_secret_shape_is_masked(name: str, text: str, secret: str) -> None:
    out = redact_text(text)
    assert secret not in out
    assert MASK in out


def test_all_secrets_in_one_text_are_masked_and_redaction_is_idempotent() -> None:
    once = redact_text(text_with_all_secrets())
    assert not [s for s in all_secret_values() if s in once]
    assert redact_text(once) == once


def test_key_names_stay_readable() -> None:
    out = redact_text("AccountName=acct;AccountKey=abc123def456;EndpointSuffix=core.windows.net")
    assert out == "AccountName=acct;AccountKey=[REDACTED];EndpointSuffix=core.windows.net"


def test_ordinary_error_text_is_untouched() -> None:
    text = ("ErrorCode=SqlFailedToConnect,'Cannot connect to SQL Database: 'srv', Database: 'db', User: 'etl'. "
            "SqlErrorNumber=40613, Login failed for user '<token-identified principal>'")
    assert redact_text(text) == text


def test_redact_walks_json_values_and_masks_secret_keys() -> None:
    value = {"password": "pw-value-1", "nested": [{"AccountKey": "k"}, "Password=abcdef123;"],
             "client_secret": "cs", "count": 3, "message": "ok"}
    out = redact(value)
    assert out["password"] == MASK and out["client_secret"] == MASK
    assert out["nested"][0]["AccountKey"] == MASK
    assert out["nested"][1] == f"Password={MASK};"
    assert out["count"] == 3 and out["message"] == "ok"


@pytest.mark.parametrize("text", [
    "x" * 1_000_000, "a.b-c_" * 150_000, "A1+/" * 250_000, "'password': '" * 60_000, "https://u:" * 80_000,
    "Bearer " * 120_000, "eyJ" + "a" * 900_000, "token=" * 150_000,
])
def test_adversarial_input_is_redacted_in_linear_time(text: str) -> None:
    # Alert bodies are attacker-controlled: a regex that backtracks quadratically would stall ingest.
    # 1 MB took minutes with an unbounded `[\w.-]*` prefix; linear patterns take well under a second.
    started = time.perf_counter()
    redact_text(text)
    redact({"x" * 100_000 + "password": text[:1000]})
    assert time.perf_counter() - started < 3.0


@pytest.mark.parametrize(("text", "secret"), [
    ("Server=x;Database=y;password={Secr;et};Encrypt=True", "Secr;et"),  # ODBC brace-quoted value
    ("Data Source=x;Password=P@ss w0rd!;User ID=u", "w0rd!"),  # a value with a space runs to ';'
    ("Authorization: token abcdef0123456789", "abcdef0123456789"),  # any authorization scheme
    ("postgres://admin:p@ss@host:5432/db", "p@ss"),  # '@' inside a URL password
    ('password: "ab\\"cd-secret"', "cd-secret"),  # escaped quote inside a quoted value
])
def test_review_found_secret_shapes_are_masked(text: str, secret: str) -> None:
    assert secret not in redact_text(text)


def test_prose_about_tokens_is_left_readable() -> None:
    for text in ("the token expired at 10:00", "token authentication failed for user bob"):
        assert redact_text(text) == text


def test_credential_and_signature_keys_mask_their_values() -> None:
    assert redact({"credentials": "abc", "sig": "abc", "signature": "x", "user": "bob"}) == {
        "credentials": MASK, "sig": MASK, "signature": MASK, "user": "bob"}


def test_secrets_inside_json_keys_are_redacted_and_values_kept() -> None:
    from tests.unit.analysis.secrets_corpus import GITHUB_TOKEN, STRIPE_KEY

    out = redact({STRIPE_KEY: {"scope": "charges"}, f"Password={PASSWORD}": 1, "nested": [{GITHUB_TOKEN: "x"}]})
    text = repr(out)
    assert STRIPE_KEY not in text and PASSWORD not in text and GITHUB_TOKEN not in text
    assert {"scope": "charges"} in out.values()  # the value under a redacted key survives
    assert out["nested"][0] == {MASK: "x"}


def test_two_keys_redacting_alike_both_survive() -> None:
    from tests.unit.analysis.secrets_corpus import GITLAB_PAT, HF_TOKEN

    out = redact({GITLAB_PAT: 1, HF_TOKEN: 2})
    assert sorted(out.values()) == [1, 2]


def test_secret_named_keys_mask_numbers_too() -> None:
    out = redact({"pin_password": 12345678, "enabled": True, "token": None})
    assert out == {"pin_password": MASK, "enabled": True, "token": None}
