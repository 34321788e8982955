"""`stelloloxon-bot config check`: every setting, its value and where it came from, secrets
masked, and what production would refuse (bot.config.production_problems)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import SecretStr, ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.config import Settings, production_problems

MASK = "********"
SECRET_WORDS = ("password", "token", "secret", "key")
PREFIX = str(Settings.model_config.get("env_prefix", ""))


@dataclass(frozen=True)
class Row:
    name: str
    value: str
    source: str  # default, env, or file <name>


@dataclass(frozen=True)
class Report:
    rows: list[Row]
    production: bool
    problems: list[str]

    @property
    def refused(self) -> bool:
        return self.production and bool(self.problems)


def env_files() -> list[Path]:
    files = Settings.model_config.get("env_file") or ()
    return [Path(f) for f in ((files,) if isinstance(files, str | Path) else files)]


def _lower_keys(values: Mapping[str, str | None]) -> set[str]:
    return {key.lower() for key in values}


def sources(environ: Mapping[str, str]) -> dict[str, str]:
    """Where each set value comes from, as pydantic-settings ranks them: the environment over
    the env files, a later file over an earlier one; anything else is a default."""
    found: dict[str, str] = {}
    for path in env_files():
        if path.is_file():
            for key in _lower_keys(dotenv_values(path)):
                found[key] = f"file {path}"
    for key in _lower_keys(environ):
        found[key] = "env"
    names = {f"{PREFIX}{name}".lower(): name for name in Settings.model_fields}
    return {names[key]: where for key, where in found.items() if key in names}


def _is_secret(name: str) -> bool:
    return any(word in name for word in SECRET_WORDS)


def shown(name: str, value: Any) -> str:
    """A value as the report prints it: secrets masked, the database URL's password too."""
    if value is None:
        return "unset"
    if isinstance(value, SecretStr) or (_is_secret(name) and value != ""):
        return MASK
    if name == "database_url":
        try:
            return make_url(value).render_as_string(hide_password=True)
        except ArgumentError:
            return "(unparsable URL)"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def load_settings() -> tuple[Settings, bool]:
    """The settings, and whether production is on. Production settings that would refuse to
    start are read again as development so that the report can show all of them."""
    try:
        settings = Settings()
    except ValidationError:
        settings = Settings(environment="development")  # raises again for other faults
        return settings, _raw_environment() == "production"
    return settings, settings.environment == "production"


def _raw_environment() -> str:
    """The environment asked for, ranked as Settings ranks it (env, then the last file)."""
    key = f"{PREFIX}environment".lower()
    value = next((v for k, v in os.environ.items() if k.lower() == key), None)
    if value is None:
        for path in reversed(env_files()):
            if path.is_file():
                value = next((v for k, v in dotenv_values(path).items() if k.lower() == key
                              and v is not None), None)
                if value is not None:
                    break
    return (value or "development").strip().lower()


def build_report() -> Report:
    settings, production = load_settings()
    where = sources(os.environ)
    rows = [Row(name, shown(name, "production" if name == "environment" and production
                            else getattr(settings, name)), where.get(name, "default"))
            for name in Settings.model_fields]
    return Report(rows, production, production_problems(settings))
