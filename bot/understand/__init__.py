"""Understanding client messages: intents, language, entities, and when to ask staff.

Rules are data (``bot.understand.rules``, one module per language); every intent carries the
names of the rules that fired, so "why did the bot do that?" has an answer.
"""

from bot.understand.core import understand, warm_up
from bot.understand.model import INTENTS, PRIVACY_INTENTS, Entities, Intent, Understanding
from bot.understand.rules import SUPPORTED_LANGUAGES

__all__ = [
    "INTENTS",
    "PRIVACY_INTENTS",
    "SUPPORTED_LANGUAGES",
    "Entities",
    "Intent",
    "Understanding",
    "understand",
    "warm_up",
]
