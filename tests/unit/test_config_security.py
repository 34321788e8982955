"""Production refuses staff senders it could never authenticate."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bot.config import Settings

PRODUCTION: dict[str, Any] = {"environment": "production", "relay_host": "relay.example",
                              "suppression_key": "a-real-key-0123456789"}


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **{**PRODUCTION, **values})  # type: ignore[call-arg]


def test_production_refuses_staff_senders_without_any_authentication() -> None:
    with pytest.raises(ValidationError, match="no way to authenticate"):
        _settings(staff_senders=["boss@stelloloxonpro.com"], own_dkim_check=False)


def test_production_starts_with_a_trusted_mx_or_the_own_dkim_check() -> None:
    assert _settings(staff_senders=["boss@stelloloxonpro.com"], own_dkim_check=False,
                     trusted_authserv_ids=["mx.stelloloxonpro.com"]).staff_senders
    assert _settings(staff_senders=["boss@stelloloxonpro.com"]).own_dkim_check
    assert _settings(own_dkim_check=False).staff_senders == []
