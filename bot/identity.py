"""Chat identities as addresses, so chat messages run through the same pipeline as mail.

A Telegram user is `<numeric user id>@telegram.invalid` (RFC 2606 reserves .invalid, so these
never leave the bot as mail). Linking a chat to a client adds that address to the client's
addresses on file; codes for chat requests still go to the client's real email on file.
"""

from __future__ import annotations

CHAT_DOMAIN = "telegram.invalid"


def chat_address(user_id: int) -> str:
    return f"{user_id}@{CHAT_DOMAIN}"


def is_chat_address(address: str) -> bool:
    return address.lower().endswith("@" + CHAT_DOMAIN)


def channel_of(address: str) -> str:
    """The channel a case or communication with this address runs on."""
    return "telegram" if is_chat_address(address) else "email"




def staff_chat_address(chat_id: int) -> str:
    """The staff group chat, as an outbox recipient (escalations get inline buttons there)."""
    return f"staff{chat_id}@{CHAT_DOMAIN}"


def chat_target(address: str) -> tuple[str, int]:
    """("user", id) or ("staff", chat id) for a chat address."""
    local = address.partition("@")[0]
    if local.startswith("staff"):
        return "staff", int(local.removeprefix("staff"))
    return "user", int(local)
