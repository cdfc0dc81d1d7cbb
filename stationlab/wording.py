"""How counts read in messages: ``1 file``, ``2 files``, ``1,234 readings``."""

from __future__ import annotations

IRREGULAR = {"entry": "entries", "was": "were"}


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, the word in plural unless ``n`` is 1, thousands separated."""
    return f"{n:,} {word if n == 1 else IRREGULAR.get(word, word + 's')}"
