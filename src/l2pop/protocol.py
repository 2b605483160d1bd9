"""The agent/server protocol version: ``L2pop-Protocol: <integer>`` on requests and answers.

Rolling upgrades without a flag day: a server serves agents one protocol
version older and one newer than its own, so agents and servers can be
upgraded one host at a time; a wider gap is refused with ``426``. A request
without the header comes from the oldest version, :data:`OLDEST` (release
0.1.0 sent none). Bump :data:`PROTOCOL_VERSION` when the host API changes in
a way an agent must know (a new field is not such a change: both sides ignore
fields they do not know).
"""

from __future__ import annotations

__all__ = ["HEADER", "MAX_SKEW", "OLDEST", "PROTOCOL_VERSION", "parse_version", "skew_refusal"]

HEADER = "L2pop-Protocol"
PROTOCOL_VERSION = 2  # 1: release 0.1.0 (no header); 2: the header itself
OLDEST = 1
MAX_SKEW = 1


def parse_version(value: str | None) -> int | None:
    """The version a header value names; OLDEST when absent, None when not an integer."""
    if value is None:
        return OLDEST
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        return None
    return int(text)


def skew_refusal(theirs: int, ours: int = PROTOCOL_VERSION) -> str | None:
    """Why a peer speaking ``theirs`` cannot be served (None when it can)."""
    if abs(theirs - ours) <= MAX_SKEW:
        return None
    side = "older" if theirs < ours else "newer"
    return (
        f"l2pop protocol {theirs} is {side} than this server's {ours} "
        f"(it serves {ours - MAX_SKEW} to {ours + MAX_SKEW}): upgrade the "
        f"{'agent' if side == 'older' else 'server'}"
    )
