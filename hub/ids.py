"""Canonical and run ids: time-ordered, random, URL-safe (``per_01j9...``), never reused."""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
# Every pair of base32 digits (10 bits): a large import makes an id per record, and eight look-ups
# of two digits are about three times faster than sixteen divisions.
_PAIRS = tuple(a + b for a in _ALPHABET for b in _ALPHABET)


def _base32(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


# The time part of the last id made: ids made within one millisecond share it.
_last_time: tuple[int, str] = (-1, "")

# Random bytes are drawn from the OS 4 KiB at a time (one system call per ~400 ids), and handed
# out under a lock so no two threads take the same ten bytes. A child process inherits the buffer:
# it is thrown away after a fork so parent and child never hand out the same bytes.
_RANDOM_BLOCK = 4090


class _RandomBuffer:
    __slots__ = ("at", "data")

    def __init__(self) -> None:
        self.data = b""
        self.at = 0


_random = _RandomBuffer()
_random_lock = threading.Lock()


def _drop_random_buffer() -> None:
    _random.data, _random.at = b"", 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_random_buffer)


def _random80() -> int:
    with _random_lock:
        data, at = _random.data, _random.at
        if at + 10 > len(data):
            data, at = os.urandom(_RANDOM_BLOCK), 0
            _random.data = data
        _random.at = at + 10
        return int.from_bytes(data[at : at + 10], "big")


def ulid() -> str:
    """26 characters: 48 bits of milliseconds then 80 random bits (the ULID layout)."""
    global _last_time
    millis = time.time_ns() // 1_000_000
    held = _last_time
    if held[0] == millis:
        stamp = held[1]
    else:
        stamp = _base32(millis, 10)
        _last_time = (millis, stamp)
    n = _random80()
    p = _PAIRS
    return (
        stamp
        + p[n >> 70]
        + p[(n >> 60) & 1023]
        + p[(n >> 50) & 1023]
        + p[(n >> 40) & 1023]
        + p[(n >> 30) & 1023]
        + p[(n >> 20) & 1023]
        + p[(n >> 10) & 1023]
        + p[n & 1023]
    )


def new_canonical_id(prefix: str) -> str:
    return f"{prefix}_{ulid()}"


def new_run_id() -> str:
    return f"run_{ulid()}"
