"""The in-memory org: users, connected apps, sessions, the daily API counter, records and queries.

Tests seed and inspect it directly (``add_user``, ``seed``, ``record``, ``touch``, ``advance``,
``expire_sessions``, ``api_calls``); the HTTP layer in ``emulator.py`` calls the same object. One
lock serialises everything, since uvicorn's thread and the test thread both use it.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.salesforce import errors, soql
from connectors.salesforce.errors import ApiError
from connectors.salesforce.ids import IdFactory, to_18
from connectors.salesforce.schema import OBJECTS, ObjectDef, find_object
from connectors.salesforce.store import Record, RecordStore
from connectors.salesforce.values import format_datetime, parse_datetime
from connectors.salesforce.writes import RecordWriter, WriteContext

# Query pages: default and maximum 2,000, minimum 200 for Sforce-Query-Options (apis.md §1.2 [D]).
MAX_QUERY_PAGE = 2000
MIN_QUERY_BATCH = 200
# "A user can have up to 10 query cursors open at a time"; a locator idles out after 15 minutes [D].
MAX_OPEN_CURSORS = 10
CURSOR_IDLE = timedelta(minutes=15)
# getUpdated/getDeleted: 30 days back at most, 600,000 ids at most (apis.md §1.7 [D]).
REPLICATION_WINDOW = timedelta(days=30)
REPLICATION_ID_LIMIT = 600_000


@dataclass(frozen=True)
class Credentials:
    """What a test needs to log in as the org's integration user."""

    username: str
    password: str
    security_token: str
    client_id: str
    client_secret: str


@dataclass
class ConnectedApp:
    client_id: str
    client_secret: str
    run_as_user_id: str | None  # the client-credentials flow's "Run As" user


@dataclass
class Session:
    token: str
    user_id: str
    client_id: str | None
    issued_at: datetime
    last_used: datetime
    expired: bool = False


@dataclass
class _Cursor:
    user_id: str
    endpoint: str
    records: list[dict[str, Any]]
    last_used: datetime


@dataclass
class RequestLogEntry:
    method: str
    path: str
    status: int


@dataclass
class Org:
    """One org. ``api_limit`` is the daily request allowance (Enterprise Edition's base 100,000)."""

    api_limit: int = 100_000
    query_page_size: int = MAX_QUERY_PAGE
    instance_url: str = "https://huitong-dev.my.salesforce.com"
    session_timeout: timedelta = timedelta(hours=2)
    # ENTITY_IS_DELETED's status is not documented; 404 unless a test says otherwise (apis.md §1.3).
    deleted_entity_status: int = 404
    recycle_bin_days: int = 15
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    api_used: int = field(default=0, init=False)
    request_log: list[RequestLogEntry] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self._offset = timedelta(0)
        self._ids = IdFactory()
        self.org_id = self._ids.new("00D")
        self.store = RecordStore()
        self.writer = RecordWriter(self.store, self._ids, lambda: self.deleted_entity_status)
        self.sessions: dict[str, Session] = {}
        self.apps: dict[str, ConnectedApp] = {}
        self._passwords: dict[str, tuple[str, str]] = {}
        self._cursors: dict[str, _Cursor] = {}
        self.created_at = self.now()
        self.admin_id = self.add_user(
            "integration@huitong.example",
            email="integration@huitong.example",
            last_name="Integration",
            first_name="Huitong",
            password="Hub-Passw0rd",  # noqa: S106 - a fixture credential of the emulated org
            security_token="HUBTOKEN42",  # noqa: S106
        )
        self.credentials = Credentials(
            "integration@huitong.example",
            "Hub-Passw0rd",
            "HUBTOKEN42",
            "3MVG9huitong.hub.consumer.key",
            "HUB-CONSUMER-SECRET",
        )
        self.add_connected_app(
            self.credentials.client_id, self.credentials.client_secret, run_as=self.admin_id
        )

    # --- time ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The org's clock, to the millisecond like stored datetimes (so values round-trip)."""
        current = self.clock() + self._offset
        return current.replace(microsecond=current.microsecond // 1000 * 1000)

    def advance(self, delta: timedelta) -> None:
        """Move the org's clock forward (session timeouts, replication windows, recycle bin)."""
        with self.lock:
            self._offset += delta

    # --- users, apps, sessions -----------------------------------------------------------------

    def add_user(
        self,
        username: str,
        *,
        email: str,
        last_name: str,
        first_name: str | None = None,
        password: str = "Passw0rd",  # noqa: S107 - emulated users' default
        security_token: str = "",
        active: bool = True,
    ) -> str:
        with self.lock:
            body = {
                "Username": username,
                "Email": email,
                "LastName": last_name,
                "FirstName": first_name,
                "Alias": (first_name or "")[:1] + last_name[:4],
                "IsActive": active,
            }
            ctx = WriteContext(getattr(self, "admin_id", ""), self.now())
            user_id = self.writer.create(OBJECTS["User"], body, ctx, seeding=True)
            if not ctx.user_id:  # the first user created itself
                record = dict(self.store.get(user_id) or {})
                record.update(CreatedById=user_id, LastModifiedById=user_id)
                self.store.put("User", record)
            self._passwords[username.lower()] = (password, security_token)
            return user_id

    def deactivate_user(self, user_id: str) -> None:
        with self.lock:
            record = dict(self.store.get(user_id) or {})
            record.update(IsActive=False, SystemModstamp=self.now())
            self.store.put("User", record)

    def add_connected_app(self, client_id: str, client_secret: str, run_as: str | None) -> None:
        with self.lock:
            self.apps[client_id] = ConnectedApp(client_id, client_secret, run_as)

    def authenticate(self, username: str, password_and_token: str) -> str | None:
        """The user id for a correct username and password+security token, else None."""
        with self.lock:
            secret = self._passwords.get(username.lower())
            if secret is None or password_and_token != secret[0] + secret[1]:
                return None
            for user in self.store.rows("User"):
                if user["Username"].lower() == username.lower() and user["IsActive"]:
                    return str(user["Id"])
            return None

    def open_session(self, user_id: str, client_id: str | None = None) -> Session:
        with self.lock:
            token = f"{self.org_id[:15]}!AQ{secrets.token_urlsafe(60)}"
            now = self.now()
            session = Session(token, user_id, client_id, now, now)
            self.sessions[token] = session
            return session

    def session(self, token: str) -> Session | None:
        """The live session for a bearer token; touching it keeps it alive."""
        with self.lock:
            session = self.sessions.get(token)
            now = self.now()
            if session is None or session.expired:
                return None
            if now - session.last_used > self.session_timeout:
                session.expired = True
                return None
            session.last_used = now
            return session

    def expire_sessions(self, token: str | None = None) -> None:
        """Test hook: invalidate one token, or every token issued so far."""
        with self.lock:
            for session in self.sessions.values():
                if token is None or session.token == token:
                    session.expired = True

    # --- daily API allowance -------------------------------------------------------------------

    def consume_api_call(self) -> bool:
        """Count one request against the daily allowance; False once it is spent."""
        with self.lock:
            if self.api_used >= self.api_limit:
                return False
            self.api_used += 1
            return True

    def limit_info(self) -> str:
        # Sforce-Limit-Info: api-usage=N/M (apis.md §1.6 [D], parsed by the client [V])
        return f"api-usage={self.api_used}/{self.api_limit}"

    @property
    def api_calls(self) -> int:
        return self.api_used

    def reset_api_usage(self) -> None:
        with self.lock:
            self.api_used = 0
            self.request_log.clear()

    def limits(self) -> dict[str, Any]:
        with self.lock:
            return {
                "DailyApiRequests": {
                    "Max": self.api_limit,
                    "Remaining": self.api_limit - self.api_used,
                },
                "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
                "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            }

    # --- records -------------------------------------------------------------------------------

    def context(self, user_id: str | None = None, at: datetime | None = None) -> WriteContext:
        return WriteContext(user_id or self.admin_id, at or self.now())

    @contextmanager
    def all_or_none(self, enabled: bool) -> Iterator[list[bool]]:
        """Run a batch; the caller appends each record's success, and with ``enabled`` one failure
        undoes the whole batch."""
        with self.lock:
            outcomes: list[bool] = []
            self.store.begin()
            try:
                yield outcomes
            except BaseException:
                self.store.rollback()
                raise
            if enabled and not all(outcomes):
                self.store.rollback()
            else:
                self.store.commit()

    def seed(self, sobject: str, fields: Mapping[str, Any], at: datetime | None = None) -> str:
        """Test helper: create a record as the integration user, optionally back-dated.

        Runs the API's validations (required fields, lookups, unique values) but may set audit
        fields such as ``CreatedDate``; it does not count against the API allowance.
        """
        obj = self._object(sobject)
        with self.lock:
            at = at or self.now()
            fields = {"CreatedDate": at, "LastModifiedDate": at, "SystemModstamp": at, **fields}
            return self.writer.create(obj, fields, self.context(at=at), seeding=True)

    def record(self, record_id: str) -> Record | None:
        """Test helper: a copy of any stored record (live or in the Recycle Bin)."""
        with self.lock:
            row = self.store.get(to_18(record_id) if len(record_id) == 15 else record_id)
            return dict(row) if row is not None else None

    def records(self, sobject: str, include_deleted: bool = False) -> list[Record]:
        with self.lock:
            return [dict(r) for r in self.store.rows(self._object(sobject).name, include_deleted)]

    def touch(self, record_id: str) -> None:
        """Test helper: a system change moves SystemModstamp but not LastModifiedDate."""
        with self.lock:
            sobject = self.store.object_of(record_id)
            row = self.store.get(record_id)
            if sobject is None or row is None:
                raise KeyError(record_id)
            self.store.put(sobject, {**row, "SystemModstamp": self.now()})

    def purge_recycle_bin(self) -> None:
        with self.lock:
            self.store.purge(self.now() - timedelta(days=self.recycle_bin_days))

    def _object(self, name: str) -> ObjectDef:
        obj = find_object(name)
        if obj is None:
            raise errors.not_found()
        return obj

    def lookup(self, sobject: str, record_id: str) -> Mapping[str, Any] | None:
        return self.store.live(sobject, record_id)

    # --- queries -------------------------------------------------------------------------------

    def query(
        self,
        text: str,
        *,
        include_deleted: bool,
        batch_size: int | None,
        user_id: str,
        version: str,
    ) -> dict[str, Any]:
        with self.lock:
            self.purge_recycle_bin()
            compiled = soql.compile_query(text, self.now())
            rows = soql.select(
                compiled, self.store.rows(compiled.sobject.name, include_deleted), self.lookup
            )
            if compiled.count == "rows":
                return {"totalSize": len(rows), "done": True, "records": []}
            if compiled.count == "field":
                path = compiled.fields[0]
                n = sum(1 for r in rows if path.value(r, self.lookup) is not None)
                aggregate = {"attributes": {"type": "AggregateResult"}, "expr0": n}
                return {"totalSize": 1, "done": True, "records": [aggregate]}
            records = [soql.project(compiled, r, self.lookup, version) for r in rows]
            endpoint = "queryAll" if include_deleted else "query"
            return self._page(records, 0, self._page_size(batch_size), endpoint, user_id, version)

    def query_more(
        self, locator: str, *, batch_size: int | None, user_id: str, version: str
    ) -> dict[str, Any]:
        with self.lock:
            cursor_id, _, offset_text = locator.partition("-")
            cursor = self._cursors.get(cursor_id)
            now = self.now()
            if (
                cursor is None
                or cursor.user_id != user_id
                or now - cursor.last_used > CURSOR_IDLE
                or not offset_text.isdigit()
                or int(offset_text) > len(cursor.records)
            ):
                raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")  # [K] text
            cursor.last_used = now
            page = self._page_size(batch_size)
            return self._page(
                cursor.records, int(offset_text), page, cursor.endpoint, user_id, version, cursor_id
            )

    def expire_query_cursors(self) -> None:
        with self.lock:
            self._cursors.clear()

    def _page_size(self, requested: int | None) -> int:
        size = (
            MAX_QUERY_PAGE
            if requested is None
            else max(MIN_QUERY_BATCH, min(requested, MAX_QUERY_PAGE))
        )
        return max(1, min(size, self.query_page_size))

    def _page(
        self,
        records: list[dict[str, Any]],
        offset: int,
        size: int,
        endpoint: str,
        user_id: str,
        version: str,
        cursor_id: str | None = None,
    ) -> dict[str, Any]:
        end = offset + size
        body: dict[str, Any] = {"totalSize": len(records), "done": end >= len(records)}
        if end < len(records):
            if cursor_id is None:
                cursor_id = self._ids.new("01g")
                mine = [k for k, c in self._cursors.items() if c.user_id == user_id]
                for stale in mine[: max(0, len(mine) - MAX_OPEN_CURSORS + 1)]:
                    del self._cursors[stale]
                self._cursors[cursor_id] = _Cursor(user_id, endpoint, records, self.now())
            # nextRecordsUrl is a host-less path, present only while done is false (apis.md §1.2)
            body["nextRecordsUrl"] = f"/services/data/v{version}/{endpoint}/{cursor_id}-{end}"
        body["records"] = records[offset:end]
        return body

    # --- replication ---------------------------------------------------------------------------

    def _window(self, start_text: str, end_text: str) -> tuple[datetime, datetime]:
        start, end = parse_datetime(start_text), parse_datetime(end_text)
        if start is None or end is None:
            raise errors.invalid_replication_date(
                f"Unable to parse the date range: start={start_text!r} end={end_text!r}"
            )
        # Seconds are ignored (apis.md §1.7 [D]); never cover beyond the present minute.
        start = start.replace(second=0, microsecond=0)
        now = self.now()
        end = min(end, now).replace(second=0, microsecond=0)
        if start < now - REPLICATION_WINDOW:
            raise errors.invalid_replication_date("startDate cannot be more than 30 days ago")
        if start >= end:
            raise errors.invalid_replication_date(
                "startDate must chronologically precede endDate by more than one minute"
            )
        return start, end

    def get_updated(self, sobject: str, start_text: str, end_text: str) -> dict[str, Any]:
        obj = self._object(sobject)
        with self.lock:
            start, end = self._window(start_text, end_text)
            ids = [r["Id"] for r in self.store.rows(obj.name) if start <= r["SystemModstamp"] < end]
            if len(ids) > REPLICATION_ID_LIMIT:
                raise errors.exceeded_id_limit_replication(REPLICATION_ID_LIMIT)
            return {"ids": ids, "latestDateCovered": format_datetime(end)}

    def get_deleted(self, sobject: str, start_text: str, end_text: str) -> dict[str, Any]:
        obj = self._object(sobject)
        with self.lock:
            self.purge_recycle_bin()
            start, end = self._window(start_text, end_text)
            deleted = [
                {"id": row["Id"], "deletedDate": format_datetime(when)}
                for row, when in self.store.deleted_rows(obj.name)
                if start <= when < end
            ]
            if len(deleted) > REPLICATION_ID_LIMIT:
                raise errors.exceeded_id_limit_replication(REPLICATION_ID_LIMIT)
            # earliestDateAvailable: the last physically deleted record, or when tracking began.
            earliest = (self.store.last_purged or self.created_at).replace(second=0, microsecond=0)
            return {
                "deletedRecords": deleted,
                "earliestDateAvailable": format_datetime(earliest),
                "latestDateCovered": format_datetime(end),
            }
