"""Canonical ids: the ULID layout, in Crockford base32, unique and time-ordered."""

from __future__ import annotations

import os
import re
import threading
import time

import hub.ids as ids

_ID = re.compile(r"^per_[0-9a-hjkmnp-tv-z]{26}$")


def test_an_id_is_the_ulid_layout() -> None:
    before = time.time_ns() // 1_000_000
    cid = ids.new_canonical_id("per")
    after = time.time_ns() // 1_000_000
    assert _ID.match(cid), cid
    millis = int("".join(f"{ids._ALPHABET.index(c):05b}" for c in cid[4:14]), 2)
    assert before <= millis <= after


def test_the_digit_pairs_encode_as_sixteen_divisions_do() -> None:
    for _ in range(2000):
        number = int.from_bytes(os.urandom(10), "big")
        p = ids._PAIRS
        fast = "".join(p[(number >> shift) & 1023] for shift in range(70, -10, -10))
        assert fast == ids._base32(number, 16)
    assert ids._base32(0, 16) == "0" * 16
    assert "".join(ids._PAIRS[1023] for _ in range(8)) == ids._base32(2**80 - 1, 16)


def test_ids_are_unique_across_threads_and_ordered_in_time() -> None:
    made: list[list[str]] = [[] for _ in range(4)]

    def make(out: list[str]) -> None:
        for _ in range(5000):
            out.append(ids.new_canonical_id("per"))

    threads = [threading.Thread(target=make, args=(out,)) for out in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [cid for out in made for cid in out]
    assert len(set(every)) == len(every) == 20000
    first = ids.new_canonical_id("per")
    time.sleep(0.002)
    assert ids.new_canonical_id("per")[:14] > first[:14]  # a later millisecond sorts after


def test_a_forked_child_draws_its_own_random_bytes() -> None:
    ids.new_canonical_id("per")  # the parent holds a part-used buffer
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, to the parent
        os.close(read)
        os.write(write, ids.new_canonical_id("per").encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    mine = ids.new_canonical_id("per")
    assert child[14:] != mine[14:]
