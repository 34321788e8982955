"""Revision files; `stelloloxon-bot db revision MESSAGE` writes a new one here."""
