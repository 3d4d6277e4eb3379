"""Remember which ids a file has already used, in 12 to 36 bytes per id.

Duplicate detection is the one thing a streaming read must remember for the whole file. A Python
``dict[str, int]`` costs ~100 bytes per id (50 MB for half a million rows); this open-addressing
table keeps only each id's 64-bit hash and first line in two flat arrays. Two different ids share a
64-bit hash with odds around n²/2⁶⁵ (about 1 in 10⁸ files of 500 000 rows), accepted as the price of
a read whose memory does not grow with the text of the file.
"""

from __future__ import annotations

from array import array

_MASK = (1 << 64) - 1
_EMPTY = 0


class SeenIds:
    def __init__(self, capacity: int = 1024) -> None:
        self._hashes = array("Q", [_EMPTY]) * capacity
        self._lines = array("I", [0]) * capacity
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, external_id: str, line: int) -> int | None:
        """Record ``external_id`` at ``line``; return the earlier line if it was already there."""
        key = _hash(external_id)
        slot = self._slot(key)
        if self._hashes[slot] != _EMPTY:
            return self._lines[slot]
        self._hashes[slot] = key
        self._lines[slot] = line
        self._count += 1
        if self._count * 3 > len(self._hashes) * 2:  # linear probing stays short below 2/3 full
            self._grow()
        return None

    def _slot(self, key: int) -> int:
        mask = len(self._hashes) - 1
        slot = key & mask
        while self._hashes[slot] not in (_EMPTY, key):
            slot = (slot + 1) & mask
        return slot

    def _grow(self) -> None:
        old_hashes, old_lines = self._hashes, self._lines
        capacity = len(old_hashes) * 2
        self._hashes = array("Q", [_EMPTY]) * capacity
        self._lines = array("I", [0]) * capacity
        for key, line in zip(old_hashes, old_lines, strict=True):
            if key != _EMPTY:
                slot = self._slot(key)
                self._hashes[slot] = key
                self._lines[slot] = line


def _hash(external_id: str) -> int:
    # hash() is salted per process, which is fine: the table lives for one read of one file.
    return (hash(external_id) & _MASK) or 1
