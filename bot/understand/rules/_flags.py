"""Flags for rule specs (kept apart so language modules can import them)."""

KEEP = "keep"  # the phrase carries its own negation; negation cues must not cancel it
