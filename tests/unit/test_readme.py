"""The README's settings table names every setting (a new setting without docs fails here)."""

from __future__ import annotations

from bot.config import REPO_ROOT, Settings


def test_readme_documents_every_setting() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    missing = [name for name in Settings.model_fields if f"`{name}`" not in readme]
    assert missing == [], f"settings missing from README.md: {missing}"
