"""Named pure transforms a mapping may apply to one value, each with its inverse for the way back.

A transform is chosen in a mapping as ``transform: name`` or ``transform: name:argument``. An unknown
name is a configuration error when the mapping is loaded, never a crash at run time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Fn = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Transform:
    name: str
    read: Fn
    write: Fn | None  # None: the transform loses information, the field is read-only


def _identity(value: Any) -> Any:
    return value


def _text(fn: Callable[[str], Any]) -> Fn:
    def apply(value: Any) -> Any:
        return fn(value) if isinstance(value, str) else value

    return apply


_NON_DIGITS = re.compile(r"\D+")


def _strip_prefix(prefix: str) -> Transform:
    def read(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(prefix):
            return value[len(prefix) :]
        return value

    def write(value: Any) -> Any:
        return f"{prefix}{value}" if value is not None else None

    return Transform(f"strip_prefix:{prefix}", read, write)


def _split(argument: str) -> Transform:
    separator, _, index = argument.rpartition(":")
    if not separator or not index.lstrip("-").isdigit():
        raise ValueError("split takes 'separator:index', e.g. split: :0")
    position = int(index)

    def read(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        parts = value.split(separator)
        return parts[position].strip() if -len(parts) <= position < len(parts) else None

    return Transform(f"split:{argument}", read, None)


_SALESFORCE_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_id18(value: str) -> str:
    """A 15-character (case-sensitive) Salesforce id as its 18-character form, which the REST API
    returns: each 5-character chunk adds one character encoding which of its letters are upper
    case (https://help.salesforce.com/s/articleView?id=000385008). Other values are left alone."""
    value = value.strip()
    if len(value) != 15 or not value.isalnum():
        return value
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, ch in enumerate(value[start : start + 5]) if "A" <= ch <= "Z")
        suffix += _SALESFORCE_SUFFIX[bits]
    return value + suffix


_SIMPLE: dict[str, Transform] = {
    "salesforce_id18": Transform("salesforce_id18", _text(salesforce_id18), _identity),
    "strip": Transform("strip", _text(str.strip), _identity),
    "lower": Transform("lower", _text(str.lower), _identity),
    "upper": Transform("upper", _text(str.upper), _identity),
    "digits": Transform("digits", _text(lambda s: _NON_DIGITS.sub("", s)), _identity),
    "none_if_dash": Transform(
        "none_if_dash",
        _text(lambda s: None if s.strip() in {"-", "--", "—", "N/A", "n/a"} else s),
        _identity,
    ),
}

_PARAMETRISED: dict[str, Callable[[str], Transform]] = {
    "strip_prefix": _strip_prefix,
    "split": _split,
}

NAMES = sorted([*_SIMPLE, *(f"{name}:<argument>" for name in _PARAMETRISED)])


def resolve(spec: str) -> Transform:
    """The transform named by ``spec``; ValueError naming the choices when there is none."""
    name, sep, argument = spec.partition(":")
    if not sep and name in _SIMPLE:
        return _SIMPLE[name]
    if sep and name in _PARAMETRISED:
        return _PARAMETRISED[name](argument)
    raise ValueError(f"unknown transform {spec!r}; known: {', '.join(NAMES)}")


def chain(transforms: list[Transform]) -> Transform:
    """Apply in order when reading; undo in reverse order when writing."""
    if len(transforms) == 1:
        return transforms[0]

    def read(value: Any) -> Any:
        for t in transforms:
            value = t.read(value)
        return value

    writers = [t.write for t in reversed(transforms)]
    write: Fn | None = None
    if all(w is not None for w in writers):

        def write(value: Any) -> Any:
            for w in writers:
                value = w(value)  # type: ignore[misc]
            return value

    return Transform("+".join(t.name for t in transforms), read, write)
