"""Blocking: which pairs of records are worth comparing at all, so cost grows near-linearly.

A blocking rule turns a record into keys (``phone_last8(mobile, phone)``: the last 8 digits of each
number; ``name(full_name) + place(city)``); two records are compared when they share a key of any rule.
Keys are strings, the same in batch and incremental use, so a persistent index (``BlockingIndex``, the
SQL one lives with the store) answers "who shares a key with this record?" without a scan.

Huge blocks are skipped, not compared: a key held by more than ``max_block`` records (a switchboard
shared by a whole company, the pinyin of 张伟 in a city of millions) says too little to be worth the
quadratic cost. A rule may name ``refine`` parts; its records then also get a finer key (the coarse key
plus, say, the family name), so an oversized block is in effect sub-blocked: the coarse key is skipped,
the finer one is used wherever it is small enough. Batch and incremental apply the same rule: a key
counts only while its block holds at most ``max_block`` records.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from itertools import product
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, model_validator

from hub import normalize as n
from hub.identity.compare import (
    company_tokens,
    prepare_company_name,
    prepare_date,
    prepare_email,
    prepare_identifier,
    prepare_person_name,
    prepare_phone,
    prepare_place,
    prepare_plain,
    prepare_street,
    prepare_street_number,
)

_MAX_KEYS_PER_RULE = 16
_SEPARATOR = "\x1f"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    text = text.strip()
    return text or None


def _exact(text: str) -> list[str]:
    value = prepare_plain(text)
    return [value] if value else []


def _email(text: str) -> list[str]:
    email = prepare_email(text)
    return [email.address] if email and not email.role else []


def _email_local(text: str) -> list[str]:
    email = prepare_email(text)
    return [email.local] if email and not email.role and len(email.local) >= 3 else []


def _email_domain(text: str) -> list[str]:
    email = prepare_email(text)
    return [email.domain] if email and not email.free else []


def _phone(text: str) -> list[str]:
    phone = prepare_phone(text)
    return [phone.e164] if phone else []


def _phone_last8(text: str) -> list[str]:
    phone = prepare_phone(text)
    return [phone.digits[-8:]] if phone else []


def _name(text: str) -> list[str]:
    """Order-insensitive pinyin keys with nicknames folded: 张伟, Zhang Wei, Wei Zhang, 张玮 → 'wei zhang';
    Bill Gates, William Gates → 'gates william'."""
    name = prepare_person_name(text)
    if name is None:
        return []
    return list(name.nick_keys or name.keys)


def _surname(text: str) -> list[str]:
    name = prepare_person_name(text)
    return [name.family] if name and name.family else []


def _given_initial(text: str) -> list[str]:
    try:
        given, _ = n.split_person_name(text)
    except n.InvalidValue:
        return []
    prepared = prepare_person_name(given) if given else None
    return [prepared.primary[:1]] if prepared and prepared.primary else []


def _company(text: str) -> list[str]:
    company = prepare_company_name(text)
    return [company.key] if company else []


def _company_tokens(text: str) -> list[str]:
    """Each distinctive word of the cross-script company form ('tengda' of 深圳市腾达电子有限公司 and of
    "Tengda Electronics Co., Ltd."); common words land in oversized blocks and are skipped."""
    company = prepare_company_name(text)
    if company is None:
        return []
    words = [w for w in company_tokens(company.key).split() if len(w) >= 3]
    return words or [company.pinyin]


def _company_words(text: str) -> list[str]:
    """All comparable words of a company name at once, across scripts (深圳市腾达电子有限公司, 腾达电子
    (深圳)有限公司 and "Tengda Electronics Co., Ltd." → 'tengda electronics'): a brand word alone is
    shared by every company of that brand, brand and trade together by few."""
    company = prepare_company_name(text)
    if company is None:
        return []
    words = company_tokens(company.key)
    return [words] if words else []


def _place(text: str) -> list[str]:
    place = prepare_place(text)
    return [place] if place else []


def _identifier(text: str) -> list[str]:
    value = prepare_identifier(text)
    return [value] if value else []


def _street(text: str) -> list[str]:
    street = prepare_street(text)
    return [street] if street else []


def _street_number(text: str) -> list[str]:
    number = prepare_street_number(text)
    return [number] if number else []


def _date(text: str) -> list[str]:
    day = prepare_date(text[:10])
    return [f"{day[0]:04d}-{day[1]:02d}-{day[2]:02d}"] if day else []


def _year(text: str) -> list[str]:
    day = prepare_date(text[:10])
    return [str(day[0])] if day else []


def _domain(text: str) -> list[str]:
    try:
        domain = n.registrable_domain(text.rpartition("@")[2])
    except n.InvalidValue:
        return []
    return [domain] if domain and not n.is_free_mail_domain(domain) else []


KEY_FUNCTIONS: dict[str, Callable[[str], list[str]]] = {
    "exact": _exact,
    "email": _email,
    "email_local": _email_local,
    "email_domain": _email_domain,
    "phone": _phone,
    "phone_last8": _phone_last8,
    "name": _name,
    "surname": _surname,
    "given_initial": _given_initial,
    "company": _company,
    "company_tokens": _company_tokens,
    "company_words": _company_words,
    "place": _place,
    "identifier": _identifier,
    "postcode": _identifier,
    "street": _street,
    "street_number": _street_number,
    "date": _date,
    "year": _year,
    "domain": _domain,
}

_PART_TEXT = re.compile(r"^\s*(\w+)\s*\(\s*([^()]*?)\s*\)\s*$")


class KeyPart(BaseModel):
    """One part of a blocking key: a key function applied to one or more fields (keys unioned)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    function: str
    fields: tuple[str, ...]

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        """``"phone_last8(mobile, phone)"`` is shorthand for ``{function: phone_last8, fields: [...]}``."""
        if isinstance(data, str):
            found = _PART_TEXT.match(data)
            if not found:
                raise ValueError(f"{data!r} is not a key part such as 'phone_last8(mobile, phone)'")
            fields = tuple(f.strip() for f in found.group(2).split(",") if f.strip())
            return {"function": found.group(1), "fields": fields}
        return data

    @model_validator(mode="after")
    def _known(self) -> KeyPart:
        if self.function not in KEY_FUNCTIONS:
            known = ", ".join(sorted(KEY_FUNCTIONS))
            raise ValueError(f"unknown key function {self.function!r}; known: {known}")
        if not self.fields:
            raise ValueError(f"key function {self.function!r} needs at least one field")
        return self

    def keys(self, record: Mapping[str, Any]) -> list[str]:
        function = KEY_FUNCTIONS[self.function]
        found: list[str] = []
        for name in self.fields:
            text = _text(record.get(name))
            if text:
                for key in function(text):
                    if key not in found:
                        found.append(key)
        return found


class BlockingRule(BaseModel):
    """Records sharing the key made of ``on`` are compared; ``refine`` adds a finer key used when the
    coarse block is too big (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    on: tuple[KeyPart, ...]
    refine: tuple[KeyPart, ...] = ()

    def fields(self) -> set[str]:
        return {f for part in (*self.on, *self.refine) for f in part.fields}

    def keys(self, record: Mapping[str, Any]) -> list[str]:
        """This rule's keys for a record (``Blocker`` computes the same, faster, for many rules)."""
        coarse = _combine(self.name, self.on, record)
        if not coarse or not self.refine:
            return coarse
        finer = _combine("", self.refine, record)
        return coarse + [f"{c}{_SEPARATOR}+{f}" for c in coarse for f in finer][:_MAX_KEYS_PER_RULE]


def _combine(prefix: str, parts: Sequence[KeyPart], record: Mapping[str, Any]) -> list[str]:
    values = [part.keys(record) for part in parts]
    if not all(values):
        return []
    combos = product(*values)
    keys = [prefix + _SEPARATOR + _SEPARATOR.join(combo) for combo in combos]
    return keys[:_MAX_KEYS_PER_RULE]


_Part = tuple[Callable[[str], tuple[str, ...]], tuple[str, ...]]


@cache
def _cached(function: str) -> Callable[[str], tuple[str, ...]]:
    """A key function memoised by value: names, companies and cities repeat across records."""
    raw = KEY_FUNCTIONS[function]

    @lru_cache(maxsize=1 << 16)
    def keys(text: str) -> tuple[str, ...]:
        return tuple(raw(text.strip()))

    return keys


def _values(part: _Part, record: Mapping[str, Any]) -> tuple[str, ...]:
    function, fields = part
    if len(fields) == 1:
        value = record.get(fields[0])
        if value is None or value == "":
            return ()
        return function(value if isinstance(value, str) else str(value))
    found: list[str] = []
    for name in fields:
        value = record.get(name)
        if value is None or value == "":
            continue
        for key in function(value if isinstance(value, str) else str(value)):
            if key not in found:
                found.append(key)
    return tuple(found)


class Blocker:
    """A record's blocking keys under a list of rules (the same as ``BlockingRule.keys``, compiled
    into plain tuples and memoised key functions: this runs once per record of every batch)."""

    def __init__(self, rules: Sequence[BlockingRule]) -> None:
        self.rules = list(rules)
        # Parts that rules share (the name key, the family name) are computed once per record.
        distinct: dict[tuple[str, tuple[str, ...]], int] = {}
        for rule in self.rules:
            for p in (*rule.on, *rule.refine):
                distinct.setdefault((p.function, p.fields), len(distinct))
        self._parts: list[_Part] = [(_cached(f), fields) for f, fields in distinct]
        self._compiled: list[tuple[str, list[int], list[int]]] = [
            (
                rule.name + _SEPARATOR,
                [distinct[(p.function, p.fields)] for p in rule.on],
                [distinct[(p.function, p.fields)] for p in rule.refine],
            )
            for rule in self.rules
        ]

    def keys_by_rule(self, record: Mapping[str, Any]) -> list[list[str]]:
        values = [_values(part, record) for part in self._parts]
        out: list[list[str]] = []
        for prefix, on, refine in self._compiled:
            if len(on) == 1:
                coarse = [prefix + v for v in values[on[0]]]
            else:
                parts = [values[i] for i in on]
                coarse = (
                    [prefix + _SEPARATOR.join(c) for c in product(*parts)] if all(parts) else []
                )
            coarse = coarse[:_MAX_KEYS_PER_RULE]
            if coarse and refine:
                parts = [values[i] for i in refine]
                if all(parts):
                    finer = [_SEPARATOR.join(c) for c in product(*parts)]
                    coarse = (
                        coarse
                        + [f"{c}{_SEPARATOR}+{_SEPARATOR}{f}" for c in coarse for f in finer][
                            :_MAX_KEYS_PER_RULE
                        ]
                    )
            out.append(coarse)
        return out

    def keys(self, record: Mapping[str, Any]) -> list[str]:
        return [key for keys in self.keys_by_rule(record) for key in keys]


# ------------------------------------------------------------------------------ persistent index


class CandidateSource(Protocol):
    """What matching one record asks of an index: the ids holding any of these keys, skipping every
    key held by more than ``limit`` records (``BlockingIndex.candidates``)."""

    def candidates(self, keys: Collection[str], limit: int) -> set[str]: ...


class BlockingIndex(Protocol):
    """Which stored records hold which blocking keys: what incremental matching asks instead of a scan.

    Contract (every implementation, in memory or SQL):
    - ``add(record_id, keys)`` replaces the keys held for ``record_id`` (adding twice is not an error).
    - ``remove(record_id)`` forgets the record; removing an unknown id is not an error.
    - ``candidates(keys, limit)`` returns the ids holding at least one of ``keys``, skipping every key
      held by more than ``limit`` records (an oversized block: too common to say anything, see the
      module docstring). The result is therefore at most ``limit * len(keys)`` ids.

    The SQL index is the store's ``blocking_keys`` table (``state/matching_store.py``): rows
    (entity, key, canonical id, source key) under a covering index, replaced per source record
    (``replace_blocking_keys``) and read for a whole apply batch at once (``blocking_members``:
    block sizes first, then the members of the small blocks), through ``hub.identity.probabilistic``.
    """

    def add(self, record_id: str, keys: Collection[str]) -> None: ...

    def remove(self, record_id: str) -> None: ...

    def candidates(self, keys: Collection[str], limit: int) -> set[str]: ...


class InMemoryBlockingIndex:
    """A ``BlockingIndex`` in dictionaries. Keys are held by their hash (64 bits; this process only),
    and a key held by one record maps to that id without a set, which keeps 1M records' keys in about
    a gigabyte."""

    def __init__(self) -> None:
        self._postings: dict[int, str | set[str]] = {}
        self._keys_of: dict[str, tuple[int, ...]] = {}

    def __len__(self) -> int:
        return len(self._keys_of)

    def add(self, record_id: str, keys: Collection[str]) -> None:
        if record_id in self._keys_of:
            self.remove(record_id)
        hashes = tuple({hash(k) for k in keys})
        self._keys_of[record_id] = hashes
        postings = self._postings
        for h in hashes:
            held = postings.get(h)
            if held is None:
                postings[h] = record_id
            elif isinstance(held, str):
                if held != record_id:
                    postings[h] = {held, record_id}
            else:
                held.add(record_id)

    def remove(self, record_id: str) -> None:
        hashes = self._keys_of.pop(record_id, None)
        if hashes is None:
            return
        postings = self._postings
        for h in hashes:
            held = postings.get(h)
            if isinstance(held, str):
                if held == record_id:
                    del postings[h]
            elif held is not None:
                held.discard(record_id)
                if len(held) == 1:
                    postings[h] = next(iter(held))

    def candidates(self, keys: Collection[str], limit: int) -> set[str]:
        found: set[str] = set()
        postings = self._postings
        for key in keys:
            held = postings.get(hash(key))
            if held is None:
                continue
            if isinstance(held, str):
                found.add(held)
            elif len(held) <= limit:
                found.update(held)
        return found

    def block_size(self, key: str) -> int:
        held = self._postings.get(hash(key))
        return 0 if held is None else 1 if isinstance(held, str) else len(held)


# ------------------------------------------------------------------------------------ batch blocking

IntArray = npt.NDArray[np.int64]


@dataclass
class BlockKeys:
    """Blocking keys of a batch, collected record by record: per rule, (record index, key hash)."""

    rules: int
    records: list[array[int]] = field(default_factory=list)
    hashes: list[array[int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.records = [array("q") for _ in range(self.rules)]
        self.hashes = [array("q") for _ in range(self.rules)]

    def add(self, index: int, keys_by_rule: Sequence[Iterable[str]]) -> None:
        for rule, keys in enumerate(keys_by_rule):
            records, hashes = self.records[rule], self.hashes[rule]
            for key in keys:
                records.append(index)
                hashes.append(hash(key))


@dataclass
class CandidatePairs:
    """Pairs to compare (``left < right``, record indexes) and, per pair, a bit per rule that made it."""

    left: IntArray
    right: IntArray
    rules: npt.NDArray[np.uint32]
    pairs_per_rule: list[int]
    skipped_blocks_per_rule: list[int]
    skipped_records_per_rule: list[int]

    def __len__(self) -> int:
        return len(self.left)


def candidate_pairs(keys: BlockKeys, n_records: int, max_block: int) -> CandidatePairs:
    """Every pair sharing a key whose block holds 2..``max_block`` records, each pair once."""
    codes: list[IntArray] = []
    bits: list[npt.NDArray[np.uint32]] = []
    per_rule: list[int] = []
    skipped_blocks: list[int] = []
    skipped_records: list[int] = []
    for rule in range(keys.rules):
        records = np.frombuffer(keys.records[rule], dtype=np.int64)
        hashes = np.frombuffer(keys.hashes[rule], dtype=np.int64)
        left, right, skipped, skipped_in = _pairs_in_blocks(records, hashes, max_block)
        code = np.unique(left * n_records + right)
        codes.append(code)
        bits.append(np.full(len(code), 1 << rule, dtype=np.uint32))
        per_rule.append(len(code))
        skipped_blocks.append(skipped)
        skipped_records.append(skipped_in)
    if codes:
        all_codes = np.concatenate(codes)
        all_bits = np.concatenate(bits)
    else:
        all_codes = np.zeros(0, dtype=np.int64)
        all_bits = np.zeros(0, dtype=np.uint32)
    order = np.argsort(all_codes, kind="stable")
    all_codes, all_bits = all_codes[order], all_bits[order]
    if len(all_codes):
        starts = np.flatnonzero(np.r_[True, all_codes[1:] != all_codes[:-1]])
        unique_codes = all_codes[starts]
        rule_bits = np.bitwise_or.reduceat(all_bits, starts).astype(np.uint32)
    else:
        unique_codes, rule_bits = all_codes, all_bits
    return CandidatePairs(
        left=unique_codes // n_records,
        right=unique_codes % n_records,
        rules=rule_bits,
        pairs_per_rule=per_rule,
        skipped_blocks_per_rule=skipped_blocks,
        skipped_records_per_rule=skipped_records,
    )


def _pairs_in_blocks(
    records: IntArray, hashes: IntArray, max_block: int
) -> tuple[IntArray, IntArray, int, int]:
    empty = np.zeros(0, dtype=np.int64)
    if len(records) == 0:
        return empty, empty, 0, 0
    order = np.lexsort((records, hashes))
    h, r = hashes[order], records[order]
    distinct = np.r_[True, (h[1:] != h[:-1]) | (r[1:] != r[:-1])]
    h, r = h[distinct], r[distinct]
    starts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
    sizes = np.diff(np.r_[starts, len(h)])
    oversized = sizes > max_block
    lefts: list[IntArray] = []
    rights: list[IntArray] = []
    for size in np.unique(sizes[(sizes >= 2) & ~oversized]):
        group_starts = starts[sizes == size]
        members = r[group_starts[:, None] + np.arange(size)]  # rows sorted, so left < right
        upper_i, upper_j = np.triu_indices(int(size), 1)
        lefts.append(members[:, upper_i].ravel())
        rights.append(members[:, upper_j].ravel())
    left = np.concatenate(lefts) if lefts else empty
    right = np.concatenate(rights) if rights else empty
    return left, right, int(oversized.sum()), int(sizes[oversized].sum())
