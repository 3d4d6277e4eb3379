"""Salesforce as a system, through simple-salesforce: incremental reads, batched upserts, deletes.

See README.md beside this file for auth set-up, objects, limits and quirks; ``reading.py`` and
``writing.py`` for what a read and a write do on the wire, ``client.py`` for errors and retries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import requests

from connectors.salesforce.client import SalesforceClient, scrub
from connectors.salesforce.pacing import Pacer
from connectors.salesforce.reading import Reader
from connectors.salesforce.settings import SalesforceSettings
from connectors.salesforce.writing import BATCH_SIZE, Writer
from hub.errors import FatalError, HuitongError
from hub.ports import CheckResult, Limits, Rejection, SourceRecord, Write, WriteResult

log = logging.getLogger(__name__)

Check = tuple[str, bool, str]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SalesforceConnector:
    kind: ClassVar[str] = "salesforce"

    def __init__(
        self,
        system: str,
        settings: SalesforceSettings,
        *,
        session: requests.Session | None = None,
        pacer: Pacer | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        """``session``: the ``requests.Session`` every call goes through (for a proxy set-up, or
        for tests: the emulator's routed session). ``pacer``: share one org's budget between
        connectors (default: one per system in this process). ``sleep`` and ``clock``: for tests.
        """
        self.system = system
        self.settings = settings
        extra: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
        self.client = SalesforceClient(system, settings, session=session, pacer=pacer, **extra)
        self._reader = Reader(system, settings, self.client, clock)
        self._writer = Writer(system, settings, self.client)
        self.limits = Limits(batch_size=BATCH_SIZE, window_seconds=86_400.0)

    def __repr__(self) -> str:
        return (
            f"SalesforceConnector({self.system!r}, auth={self.settings.auth!r}, "
            f"domain={self.settings.domain!r})"
        )

    def objects(self) -> Sequence[str]:
        return list(self.settings.objects)

    def read(self, obj: str, since: str | None) -> Iterator[SourceRecord | Rejection]:
        """Records of ``obj`` changed at or after the cursor ``since`` (every record when None),
        oldest first, deletions as tombstones; see ``reading.py``."""
        self._object(obj)
        try:
            yield from self._reader.read(obj, since)
        finally:
            self._refresh_limits()

    def write(self, obj: str, writes: Sequence[Write]) -> list[WriteResult]:
        """Upserts by the external id field and deletes, 200 per call; see ``writing.py``."""
        self._object(obj)
        if not writes:
            return []
        try:
            return self._writer.write(obj, writes)
        finally:
            self._refresh_limits()

    def report_rejections(self, obj: str, rejections: Sequence[Rejection]) -> None:
        """Salesforce keeps no reject list: the hub's run errors hold them."""
        return None

    # --- checking -----------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Login, then for each object: it exists, the configured fields exist, and the external id
        field is an External ID. Changes nothing; never raises; prints no secret."""
        checks: list[Check] = []
        try:
            checks.append(self._check_login())
            if checks[-1][1]:
                for obj in self.settings.objects:
                    checks.append(self._check_object(obj))
                checks.append(self._check_usage())
        except Exception as exc:  # check() reports, it never raises
            checks.append(("check", False, f"unexpected error: {type(exc).__name__}: {exc}"))
        secrets = self.settings.secret_values()
        checks = [(name, ok, scrub(text, secrets)) for name, ok, text in checks]
        ok = all(passed for _, passed, _ in checks)
        failed = [name for name, passed, _ in checks if not passed]
        detail = "all checks passed" if ok else f"failed: {', '.join(failed)}"
        return CheckResult(ok=ok, detail=detail, checks=tuple(checks))

    def _check_login(self) -> Check:
        try:
            self.client.call("login", lambda sf: sf.restful("", method="GET"))
        except HuitongError as exc:
            return "login", False, str(exc)
        sf = self.client.connect()
        return "login", True, f"logged in ({self.settings.auth}) to {sf.sf_instance}"

    def _check_object(self, obj: str) -> Check:
        name = f"object {obj}"
        try:
            describe = self.client.restful(f"describe {obj}", f"sobjects/{obj}/describe")
        except HuitongError as exc:
            return name, False, str(exc)
        fields = {f["name"].lower(): f for f in describe.get("fields", [])}
        relations = {
            str(f["relationshipName"]).lower(): f
            for f in describe.get("fields", [])
            if f.get("relationshipName")
        }
        missing = []
        for wanted in self.settings.read_fields(obj):
            head = wanted.split(".", 1)[0].lower()
            known = relations if "." in wanted else fields
            if head not in known:
                missing.append(wanted)
        if missing:
            return name, False, f"{obj} has no field {', '.join(missing)} (or it is not visible)"
        ext_name = self.settings.external_id_of(obj)
        ext = fields.get(ext_name.lower())
        if ext is None:
            return (
                name,
                False,
                (
                    f"{obj} has no field {ext_name}: create it as Text, External ID and Unique "
                    "(README, Auth set-up)"
                ),
            )
        if not ext.get("externalId"):
            return name, False, f"{obj}.{ext_name} is not marked External ID"
        note = "" if ext.get("unique") else f"; {ext_name} is not Unique: upserts may match twice"
        return name, True, f"{obj}: {len(self.settings.read_fields(obj))} fields readable{note}"

    def _check_usage(self) -> Check:
        usage = self.client.daily_usage()
        if usage is None:
            return "api usage", True, "no Sforce-Limit-Info seen"
        used, limit = usage
        reserve = int(limit * self.settings.daily_reserve)
        ok = used < limit - reserve
        return "api usage", ok, f"{used:,} of {limit:,} daily API calls used ({reserve:,} kept)"

    # --- helpers ------------------------------------------------------------------------------

    def _object(self, obj: str) -> None:
        try:
            self.settings.object_settings(obj)
        except KeyError as exc:
            raise FatalError(f"{self.system}: {exc.args[0]}") from None

    def _refresh_limits(self) -> None:
        usage = self.client.daily_usage()
        if usage is not None and usage[1] != self.limits.daily_quota:
            self.limits = Limits(
                batch_size=BATCH_SIZE, window_seconds=86_400.0, daily_quota=usage[1]
            )
