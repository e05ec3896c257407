"""Signed approval tokens: valid once signed, refused when changed or expired."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from remediation.approval import ApprovalClaim, TokenError, sign, verify

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_round_trip_tamper_and_expiry() -> None:
    claim = ApprovalClaim("inc-1", "plan-1", int(NOW.timestamp()) + 60)
    token = sign("s3cret", claim)
    assert verify("s3cret", token, NOW) == claim
    body, mac = token.split(".")
    forged = sign("other", ApprovalClaim("inc-2", "plan-1", claim.expires)).split(".")[0]
    for bad in (f"{forged}.{mac}", f"{body}.{mac[:-2]}AA", token + "x", "", "a.b.c"):
        with pytest.raises(TokenError):
            verify("s3cret", bad, NOW)
    with pytest.raises(TokenError, match="expired"):
        verify("s3cret", token, datetime.fromtimestamp(claim.expires, UTC))
    with pytest.raises(TokenError):
        verify("", token, NOW)
