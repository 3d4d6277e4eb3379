"""A real subset of SOQL: tokenizer, parser, binding to the schema, evaluation.

Supported (SOQL and SOSL Reference [D]): ``SELECT`` field list (with parent relationship paths
such as ``Account.Name`` or ``Owner.Email``), ``COUNT()`` and ``COUNT(field)``; ``FROM`` one object;
``WHERE`` with ``AND``/``OR``/``NOT`` and parentheses, ``= != <> < <= > >=``, ``IN``/``NOT IN``,
``LIKE`` (``%`` and ``_``, case-insensitive), ``NULL``, ``TRUE``/``FALSE``, numbers, unquoted
datetime literals (``2024-01-01T00:00:00Z``, ``...+08:00``), date literals (``TODAY``,
``LAST_N_DAYS:n``...), quoted strings with backslash escapes; ``ORDER BY`` several fields
``ASC``/``DESC`` ``NULLS FIRST|LAST`` (nulls first by default, text sorted case-insensitively [D]
"ORDER BY"); ``LIMIT``; ``OFFSET``.
Text comparisons are case-insensitive, and ``!=`` matches nulls [K].

Errors use the real codes and the real shape of the message: the query row, a caret, then
``ERROR at Row:r:Column:c`` and the text (seen verbatim in many clients' logs [V]):
``MALFORMED_QUERY`` for syntax, ``INVALID_TYPE`` for an unknown object, ``INVALID_FIELD`` for an
unknown field or a literal of the wrong type, ``INVALID_QUERY_FILTER_OPERATOR`` for a bad id
literal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cmp_to_key
from typing import Any

from connectors.salesforce.errors import ApiError, unsupported_type
from connectors.salesforce.ids import normalize_id
from connectors.salesforce.schema import TEXT_TYPES, FieldDef, ObjectDef, find_object
from connectors.salesforce.values import attributes, json_value, parse_datetime

Lookup = Callable[[str, str], Mapping[str, Any] | None]

_KEYWORDS = frozenset(
    (
        *("SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC"),
        *("DESC", "NULLS", "FIRST", "LAST", "LIMIT", "OFFSET", "NULL", "TRUE", "FALSE", "COUNT"),
        *("INCLUDES", "EXCLUDES", "GROUP", "HAVING", "WITH", "FOR", "USING"),
    )
)
_UNSUPPORTED_CLAUSES = ("GROUP", "HAVING", "WITH", "FOR", "USING", "INCLUDES", "EXCLUDES")
_TOKEN_RE = re.compile(
    r"""
     (?P<ws>\s+)
    |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2})
    |(?P<number>[+-]?\d+(?:\.\d+)?)
    |(?P<word>[A-Za-z_][A-Za-z0-9_.]*(?::\d+)?)
    |(?P<quote>')
    |(?P<op><=|>=|!=|<>|=|<|>)
    |(?P<punct>[(),])
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_RANGE_LITERALS = ("TODAY", "YESTERDAY", "TOMORROW", "LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO")


# --- tokens ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # word, string, number, datetime, date, op, punct, eof
    text: str
    pos: int
    value: Any = None
    like: re.Pattern[str] | None = None

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


def _location_error(query: str, pos: int, code: str, message: str) -> ApiError:
    row = query.count("\n", 0, pos) + 1
    line_start = query.rfind("\n", 0, pos) + 1
    line_end = query.find("\n", pos)
    line = query[line_start : line_end if line_end != -1 else len(query)]
    column = pos - line_start + 1
    text = f"\n{line}\n{' ' * (column - 1)}^\nERROR at Row:{row}:Column:{column}\n{message}"
    return ApiError(400, code, text)


def _read_string(query: str, start: int) -> tuple[Token, int]:
    """A quoted literal: its decoded value and, for LIKE, a regex honouring ``\\%``/``\\_``."""
    chars: list[str] = []
    pattern: list[str] = []
    i = start + 1
    while i < len(query):
        ch = query[i]
        if ch == "'":
            like = re.compile("^" + "".join(pattern) + "$", re.IGNORECASE | re.DOTALL)
            return Token("string", query[start : i + 1], start, "".join(chars), like), i + 1
        if ch == "\\":
            nxt = query[i + 1 : i + 2]
            if nxt in _ESCAPES:
                chars.append(_ESCAPES[nxt])
                pattern.append(re.escape(_ESCAPES[nxt]))
                i += 2
                continue
            if nxt in ("%", "_"):
                chars.append(nxt)
                pattern.append(re.escape(nxt))
                i += 2
                continue
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", query[i + 2 : i + 6]):
                decoded = chr(int(query[i + 2 : i + 6], 16))
                chars.append(decoded)
                pattern.append(re.escape(decoded))
                i += 6
                continue
            literal = query[start : query.find("'", i + 2) + 1 or len(query)]
            raise _location_error(
                query,
                start,
                "MALFORMED_QUERY",
                f"Invalid string literal {literal}. Illegal character sequence '\\{nxt}' in "
                "string literal.",
            )
        chars.append(ch)
        pattern.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    raise _location_error(query, start, "MALFORMED_QUERY", "unexpected token: <EOF>")


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(query):
        if query[pos] == "'":
            token, pos = _read_string(query, pos)
            tokens.append(token)
            continue
        match = _TOKEN_RE.match(query, pos)
        if match is None:
            raise _location_error(
                query, pos, "MALFORMED_QUERY", f"unexpected token: '{query[pos]}'"
            )
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "datetime":
            tokens.append(Token(kind, text, pos, parse_datetime(text)))
        elif kind == "date":
            tokens.append(Token(kind, text, pos, date.fromisoformat(text)))
        elif kind == "number":
            tokens.append(Token(kind, text, pos, float(text)))
        elif kind != "ws":
            tokens.append(Token(kind, text, pos))
        pos = match.end()
    tokens.append(Token("eof", "<EOF>", len(query)))
    return tokens


# --- syntax tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRef:
    path: str
    pos: int


@dataclass(frozen=True)
class Condition:
    field: FieldRef
    op: str  # = != < <= > >= IN NOT_IN LIKE
    values: tuple[Token, ...]


@dataclass(frozen=True)
class BoolExpr:
    op: str  # AND, OR, NOT
    items: tuple[Expr, ...]


Expr = Condition | BoolExpr


@dataclass(frozen=True)
class OrderItem:
    field: FieldRef
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class ParsedQuery:
    fields: tuple[FieldRef, ...]
    count: str | None  # None, "rows" for COUNT(), "field" for COUNT(field) (fields[0])
    sobject: Token
    where: Expr | None
    order: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.i = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        self.i += 1
        return token

    def at(self, *words: str) -> bool:
        return self.peek().upper in words

    def unexpected(self, token: Token) -> ApiError:
        shown = token.text if token.kind == "eof" else f"'{token.text}'"
        return _location_error(
            self.query, token.pos, "MALFORMED_QUERY", f"unexpected token: {shown}"
        )

    def expect_word(self, word: str) -> Token:
        if not self.at(word):
            raise self.unexpected(self.peek())
        return self.take()

    def expect_punct(self, punct: str) -> Token:
        token = self.take()
        if token.kind != "punct" or token.text != punct:
            raise self.unexpected(token)
        return token

    def identifier(self) -> Token:
        token = self.take()
        if token.kind != "word" or token.upper in _KEYWORDS:
            raise self.unexpected(token)
        return token

    def parse(self) -> ParsedQuery:
        self.expect_word("SELECT")
        fields, count = self.select_list()
        self.expect_word("FROM")
        sobject = self.identifier()
        where = None
        if self.at("WHERE"):
            self.take()
            where = self.or_expr()
        self.reject_unsupported()
        order: list[OrderItem] = []
        if self.at("ORDER"):
            self.take()
            self.expect_word("BY")
            order.append(self.order_item())
            while self.peek().text == ",":
                self.take()
                order.append(self.order_item())
        limit = self.integer_clause("LIMIT")
        offset = self.integer_clause("OFFSET")
        self.reject_unsupported()
        if self.peek().kind != "eof":
            raise self.unexpected(self.peek())
        return ParsedQuery(tuple(fields), count, sobject, where, tuple(order), limit, offset)

    def reject_unsupported(self) -> None:
        token = self.peek()
        if token.upper in _UNSUPPORTED_CLAUSES:
            raise _location_error(
                self.query,
                token.pos,
                "MALFORMED_QUERY",
                f"{token.upper} is valid SOQL that this emulator does not implement",
            )

    def select_list(self) -> tuple[list[FieldRef], str | None]:
        if self.at("COUNT") and self.peek(1).text == "(":
            self.take()
            self.take()
            if self.peek().text == ")":
                self.take()
                return [], "rows"
            token = self.identifier()
            self.expect_punct(")")
            return [FieldRef(token.text, token.pos)], "field"
        fields = [self.field_ref()]
        while self.peek().text == ",":
            self.take()
            fields.append(self.field_ref())
        return fields, None

    def field_ref(self) -> FieldRef:
        token = self.peek()
        if token.text == "(":
            raise _location_error(
                self.query,
                token.pos,
                "MALFORMED_QUERY",
                "child relationship subqueries are valid SOQL this emulator does not implement",
            )
        token = self.identifier()
        return FieldRef(token.text, token.pos)

    def integer_clause(self, word: str) -> int | None:
        if not self.at(word):
            return None
        self.take()
        token = self.take()
        if token.kind != "number" or not token.text.isdigit():
            raise self.unexpected(token)
        return int(token.text)

    def order_item(self) -> OrderItem:
        ref = self.field_ref()
        descending = False
        if self.at("ASC", "DESC"):
            descending = self.take().upper == "DESC"
        nulls_last = False
        if self.at("NULLS"):
            self.take()
            if not self.at("FIRST", "LAST"):
                raise self.unexpected(self.peek())
            nulls_last = self.take().upper == "LAST"
        return OrderItem(ref, descending, nulls_last)

    def or_expr(self) -> Expr:
        items = [self.and_expr()]
        while self.at("OR"):
            self.take()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else BoolExpr("OR", tuple(items))

    def and_expr(self) -> Expr:
        items = [self.not_expr()]
        while self.at("AND"):
            self.take()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else BoolExpr("AND", tuple(items))

    def not_expr(self) -> Expr:
        if self.at("NOT"):
            self.take()
            return BoolExpr("NOT", (self.not_expr(),))
        if self.peek().text == "(":
            self.take()
            inner = self.or_expr()
            self.expect_punct(")")
            return inner
        return self.condition()

    def condition(self) -> Condition:
        ref = self.field_ref()
        token = self.take()
        if token.kind == "op":
            op = "!=" if token.text == "<>" else token.text
            return Condition(ref, op, (self.literal(),))
        if token.upper == "LIKE":
            return Condition(ref, "LIKE", (self.literal(),))
        if token.upper == "NOT" and self.at("IN"):
            self.take()
            return Condition(ref, "NOT_IN", self.literal_list())
        if token.upper == "IN":
            return Condition(ref, "IN", self.literal_list())
        if token.upper in _UNSUPPORTED_CLAUSES:
            self.i -= 1
            self.reject_unsupported()
        raise self.unexpected(token)

    def literal_list(self) -> tuple[Token, ...]:
        self.expect_punct("(")
        if self.at("SELECT"):
            raise _location_error(
                self.query,
                self.peek().pos,
                "MALFORMED_QUERY",
                "semi-join subqueries are valid SOQL that this emulator does not implement",
            )
        values = [self.literal()]
        while self.peek().text == ",":
            self.take()
            values.append(self.literal())
        self.expect_punct(")")
        return tuple(values)

    def literal(self) -> Token:
        token = self.take()
        if token.kind in ("string", "number", "datetime", "date"):
            return token
        if token.upper in ("NULL", "TRUE", "FALSE"):
            return token
        if token.kind == "word" and token.upper.split(":")[0] in _RANGE_LITERALS:
            return token
        raise self.unexpected(token)


def parse(query: str) -> ParsedQuery:
    return _Parser(query).parse()


# --- binding to the schema ---------------------------------------------------------------------


@dataclass(frozen=True)
class FieldPath:
    """A resolved field: the reference hops from the root object, then the final field."""

    hops: tuple[FieldDef, ...]  # reference fields followed
    targets: tuple[ObjectDef, ...]  # object reached after each hop
    field: FieldDef
    names: tuple[str, ...]  # output names: relationship names then the field name

    def value(self, fields: Mapping[str, Any], lookup: Lookup) -> Any:
        current: Mapping[str, Any] = fields
        for hop, target in zip(self.hops, self.targets, strict=True):
            ref = current.get(hop.name)
            parent = lookup(target.name, ref) if ref else None
            if parent is None:
                return None
            current = parent
        return current.get(self.field.name)


Predicate = Callable[[Mapping[str, Any], Lookup], bool]


@dataclass(frozen=True)
class CompiledQuery:
    sobject: ObjectDef
    fields: tuple[FieldPath, ...]
    count: str | None
    where: Predicate | None
    order: tuple[tuple[FieldPath, bool, bool], ...]
    limit: int | None
    offset: int | None


def compile_query(query: str, now: datetime) -> CompiledQuery:
    parsed = parse(query)
    sobject = find_object(parsed.sobject.text)
    if sobject is None:
        error = unsupported_type(parsed.sobject.text)
        raise _location_error(query, parsed.sobject.pos, error.code, error.message)
    binder = _Binder(query, sobject, now)
    paths = tuple(binder.resolve(ref) for ref in parsed.fields)
    seen: set[tuple[str, ...]] = set()
    for ref, path in zip(parsed.fields, paths, strict=True):
        key = tuple(n.lower() for n in path.names)
        if key in seen:
            raise _location_error(
                query, ref.pos, "MALFORMED_QUERY", f"duplicate field selected: {ref.path}"
            )
        seen.add(key)
    where = binder.predicate(parsed.where) if parsed.where is not None else None
    order = tuple((binder.resolve(o.field), o.descending, o.nulls_last) for o in parsed.order)
    return CompiledQuery(sobject, paths, parsed.count, where, order, parsed.limit, parsed.offset)


class _Binder:
    def __init__(self, query: str, sobject: ObjectDef, now: datetime) -> None:
        self.query = query
        self.sobject = sobject
        self.now = now

    def field_error(self, ref: FieldRef, message: str) -> ApiError:
        return _location_error(self.query, ref.pos, "INVALID_FIELD", message)

    def resolve(self, ref: FieldRef) -> FieldPath:
        parts = ref.path.split(".")
        if len(parts) > 1 and parts[0].lower() == self.sobject.name.lower():
            parts = parts[1:]  # "Account.Name" in FROM Account names the object itself
        current = self.sobject
        hops: list[FieldDef] = []
        targets: list[ObjectDef] = []
        names: list[str] = []
        for part in parts[:-1]:
            hop = current.by_relationship.get(part.lower())
            if hop is None:
                raise self.field_error(
                    ref,
                    f"Didn't understand relationship '{part}' in field path. If you are attempting "
                    "to use a custom relationship, be sure to append the '__r' after the custom "
                    "relationship name. Please reference your WSDL or the describe call for the "
                    "appropriate names.",
                )
            target = find_object(hop.reference_to[0])
            assert target is not None
            hops.append(hop)
            targets.append(target)
            names.append(hop.relationship_name or part)
            current = target
        field = current.get_field(parts[-1])
        if field is None:
            raise self.field_error(
                ref,
                f"No such column '{parts[-1]}' on entity '{current.name}'. If you are attempting "
                "to use a custom field, be sure to append the '__c' after the custom field name. "
                "Please reference your WSDL or the describe call for the appropriate names.",
            )
        names.append(field.name)
        return FieldPath(tuple(hops), tuple(targets), field, tuple(names))

    def predicate(self, expr: Expr) -> Predicate:
        if isinstance(expr, BoolExpr):
            parts = [self.predicate(item) for item in expr.items]
            if expr.op == "AND":
                return lambda rec, lk: all(p(rec, lk) for p in parts)
            if expr.op == "OR":
                return lambda rec, lk: any(p(rec, lk) for p in parts)
            return lambda rec, lk: not parts[0](rec, lk)
        return self.condition(expr)

    def condition(self, cond: Condition) -> Predicate:
        path = self.resolve(cond.field)
        field = path.field
        if cond.op == "LIKE":
            token = cond.values[0]
            if field.type not in TEXT_TYPES - {"id", "reference"} or token.kind != "string":
                raise _location_error(
                    self.query,
                    cond.field.pos,
                    "INVALID_QUERY_FILTER_OPERATOR",
                    f"invalid operator on {field.type} field: {field.name}",
                )
            pattern = token.like
            assert pattern is not None
            return lambda rec, lk: _like(path.value(rec, lk), pattern)
        values = [self.literal(field, token) for token in cond.values]
        op = cond.op
        if op in ("IN", "NOT_IN"):
            wanted = values
            positive = op == "IN"
            if all(v is not None and not isinstance(v, tuple) for v in wanted):
                # Plain literals: one set lookup instead of comparing with every listed value.
                members = {_comparable(v) for v in wanted}
                return lambda rec, lk: (
                    (lambda a: a is not None and _comparable(a) in members)(path.value(rec, lk))
                    is positive
                )
            return lambda rec, lk: (
                any(_compare(path.value(rec, lk), "=", v) for v in wanted) is positive
            )
        value = values[0]
        return lambda rec, lk: _compare(path.value(rec, lk), op, value)

    def literal(self, field: FieldDef, token: Token) -> Any:
        """The literal as a comparable value for ``field``, or the error Salesforce gives."""
        if token.upper == "NULL":
            return None
        kind = field.type
        if kind in ("id", "reference"):
            if token.kind != "string":
                raise self.type_error(field, token, "id", quoted=True)
            normalized = normalize_id(token.value)
            if normalized is None:
                raise _location_error(
                    self.query,
                    token.pos,
                    "INVALID_QUERY_FILTER_OPERATOR",
                    f"invalid ID field: {token.value}",
                )
            return normalized
        if kind in TEXT_TYPES:
            if token.kind != "string":
                raise self.type_error(field, token, "string", quoted=True)
            return str(token.value)
        if kind == "boolean":
            if token.upper not in ("TRUE", "FALSE"):
                raise self.type_error(field, token, "boolean", quoted=False)
            return token.upper == "TRUE"
        if kind in ("int", "double", "currency"):
            if token.kind != "number":
                raise self.type_error(field, token, "double" if kind != "int" else "int", False)
            return token.value
        if kind == "datetime":
            if token.kind == "datetime":
                return token.value
            if token.kind == "word":
                return _date_range(token, self.now)
            raise self.type_error(field, token, "dateTime", quoted=False)
        raise self.type_error(field, token, kind, quoted=False)

    def type_error(self, field: FieldDef, token: Token, kind: str, quoted: bool) -> ApiError:
        tail = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
        return _location_error(
            self.query,
            token.pos,
            "INVALID_FIELD",
            f"value of filter criterion for field '{field.name}' must be of type {kind} and {tail}",
        )


def _date_range(token: Token, now: datetime) -> tuple[datetime, datetime]:
    """Date literals are day ranges in the running user's zone; the emulated user is on UTC [D]."""
    name, _, count_text = token.upper.partition(":")
    today = datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)
    day = timedelta(days=1)
    n = int(count_text) if count_text else 0
    if name == "TODAY":
        return today, today + day
    if name == "YESTERDAY":
        return today - day, today
    if name == "TOMORROW":
        return today + day, today + 2 * day
    if name == "LAST_N_DAYS":
        return today - n * day, today + day
    if name == "NEXT_N_DAYS":
        return today + day, today + (n + 1) * day
    return today - n * day, today - (n - 1) * day  # N_DAYS_AGO


def _comparable(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _compare(actual: Any, op: str, wanted: Any) -> bool:
    if isinstance(wanted, tuple):  # a date range literal
        start, end = wanted
        if actual is None:
            return op == "!="
        return {
            "=": start <= actual < end,
            "!=": not start <= actual < end,
            "<": actual < start,
            "<=": actual < end,
            ">": actual >= end,
            ">=": actual >= start,
        }[op]
    if wanted is None or actual is None:
        if op == "=":
            return actual is None and wanted is None
        if op == "!=":
            return (actual is None) != (wanted is None)
        return False
    a, w = _comparable(actual), _comparable(wanted)
    if op == "=":
        return bool(a == w)
    if op == "!=":
        return bool(a != w)
    if op == "<":
        return bool(a < w)
    if op == "<=":
        return bool(a <= w)
    if op == ">":
        return bool(a > w)
    return bool(a >= w)


def _like(value: Any, pattern: re.Pattern[str]) -> bool:
    return isinstance(value, str) and pattern.match(value) is not None


# --- evaluation --------------------------------------------------------------------------------


def select(
    compiled: CompiledQuery, records: Iterable[Mapping[str, Any]], lookup: Lookup
) -> list[Mapping[str, Any]]:
    """The matching records, sorted, with OFFSET and LIMIT applied."""
    where = compiled.where
    rows = [rec for rec in records if where is None or where(rec, lookup)]
    if compiled.order:
        rows.sort(key=cmp_to_key(lambda a, b: _order_cmp(compiled, a, b, lookup)))
    start = compiled.offset or 0
    end = None if compiled.limit is None else start + compiled.limit
    return rows[start:end]


def _order_cmp(
    compiled: CompiledQuery, a: Mapping[str, Any], b: Mapping[str, Any], lookup: Lookup
) -> int:
    for path, descending, nulls_last in compiled.order:
        va, vb = _comparable(path.value(a, lookup)), _comparable(path.value(b, lookup))
        if va is None or vb is None:
            if va is None and vb is None:
                continue
            first = -1 if va is None else 1
            return -first if nulls_last else first
        if va == vb:
            continue
        result = -1 if va < vb else 1
        return -result if descending else result
    return 0


def project(
    compiled: CompiledQuery, record: Mapping[str, Any], lookup: Lookup, version: str
) -> dict[str, Any]:
    """One record as the query resource returns it: ``attributes``, then the selected fields."""
    out: dict[str, Any] = {"attributes": attributes(compiled.sobject.name, record["Id"], version)}
    for path in compiled.fields:
        _place(out, path, record, lookup, version)
    return out


def _place(
    out: dict[str, Any],
    path: FieldPath,
    record: Mapping[str, Any],
    lookup: Lookup,
    version: str,
) -> None:
    target_dict = out
    current: Mapping[str, Any] | None = record
    for hop, target, name in zip(path.hops, path.targets, path.names, strict=False):
        ref = current.get(hop.name) if current is not None else None
        parent = lookup(target.name, ref) if ref else None
        if parent is None:
            target_dict[name] = None  # a null lookup is a null relationship object [D]
            return
        nested = target_dict.get(name)
        if not isinstance(nested, dict):
            nested = {"attributes": attributes(target.name, parent["Id"], version)}
            target_dict[name] = nested
        target_dict, current = nested, parent
    assert current is not None
    target_dict[path.field.name] = json_value(path.field, current.get(path.field.name))
