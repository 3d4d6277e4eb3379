"""Canonical and run ids: time-ordered, random, URL-safe (``per_01j9...``), never reused."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _base32(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def ulid() -> str:
    """26 characters: 48 bits of milliseconds then 80 random bits (the ULID layout)."""
    millis = int(time.time() * 1000)
    return _base32(millis, 10) + _base32(int.from_bytes(os.urandom(10), "big"), 16)


def new_canonical_id(prefix: str) -> str:
    return f"{prefix}_{ulid()}"


def new_run_id() -> str:
    return f"run_{ulid()}"
