"""A thin wrapper around the official ``hubspot-api-client``: one method per API call the connector
makes, each paced, retried and with its failures sorted into ``hub.errors``.

* The SDK is built once (``HubSpot(access_token=..., host=..., retry=False)``) and its API objects
  are kept: every property access on ``client.crm...`` builds a new ``ApiClient`` with a new
  connection pool. ``host`` is set on the generated ``Configuration`` (apis.md §0.2). ``retry=False``
  turns urllib3's own retries off (by default it retries connection and read errors of idempotent
  calls silently, outside our budget and our count); retries happen here, with tenacity.
* Every call passes ``_request_timeout`` (the SDK has no default: a stalled socket would hang) and
  uses the ``*_with_http_info`` variant so the ``X-HubSpot-RateLimit-*`` headers reach the pacer.
* Errors (apis.md §0.2 "Exceptions"; §2.8): 401 → ``AuthError``; 403 → ``FatalError`` (scopes);
  429 → ``RateLimited`` (``Retry-After`` if sent, else the policy's window); 5xx, timeouts and
  dropped connections → ``RetriableError``; other 4xx → ``RequestRejected`` (a ``SkippableError``
  with the API's status, category and message), never retried.
* Messages never carry the token: it travels only in the ``Authorization`` header, and errors are
  built from the response body's ``category``/``message``, not from the request.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
import urllib3
from hubspot import HubSpot
from hubspot.crm.associations.v4 import ApiException as AssociationsApiException
from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicAssociationMultiPost,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.associations.v4 import Configuration as AssociationsConfiguration
from hubspot.crm.associations.v4 import PublicObjectId as AssociationObjectId
from hubspot.crm.companies import ApiException as CompaniesApiException
from hubspot.crm.companies import PublicMergeInput as CompanyMergeInput
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.contacts import PublicMergeInput as ContactMergeInput
from hubspot.crm.objects import ApiException as ObjectsApiException
from hubspot.crm.objects import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
)
from hubspot.crm.objects import Filter as SearchFilter
from hubspot.crm.owners import ApiException as OwnersApiException
from hubspot.crm.properties import ApiException as PropertiesApiException
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from connectors.hubspot.pacing import LocalPacer, RateBudget, seconds_to_utc_midnight
from connectors.hubspot.settings import HubSpotSettings
from hub.errors import (
    AuthError,
    FatalError,
    HuitongError,
    RateLimited,
    RetriableError,
    SkippableError,
)

API_EXCEPTIONS: tuple[type[Exception], ...] = (
    ObjectsApiException,
    ContactsApiException,
    CompaniesApiException,
    AssociationsApiException,
    OwnersApiException,
    PropertiesApiException,
)
HUBSPOT_DEFINED = "HUBSPOT_DEFINED"
NO_REFRESH_HINT = (
    "private-app tokens do not expire and cannot be refreshed: create a new token under "
    "Settings > Integrations > Private Apps and update this system's secret 'token'"
)

T = TypeVar("T")


class RequestRejected(SkippableError):
    """HubSpot refused the request itself (400 validation, 404, 409 conflict): not worth a retry."""

    def __init__(
        self, status: int, category: str, message: str, context: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(f"HubSpot {status} {category}: {message}")
        self.status = status
        self.category = category
        self.api_message = message
        self.context = dict(context or {})


@dataclass
class BatchReply:
    """A batch call's per-object results and per-input errors (207 ``errors``)."""

    results: list[Any] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)


def _error_body(raw: Any) -> dict[str, Any]:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        body = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {"message": str(raw)[:300]}
    return body if isinstance(body, dict) else {"message": str(body)[:300]}


def retry_after_from(headers: Mapping[str, str], body: Mapping[str, Any]) -> float:
    """HubSpot does not document ``Retry-After`` on 429 (apis.md §2.8): use it when present, else
    wait out the window the refusing policy names."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    raw = lowered.get("retry-after")
    if raw is not None:
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
    policy = str(body.get("policyName", ""))
    if policy == "DAILY":
        return seconds_to_utc_midnight()
    if policy == "SECONDLY":
        return 1.0
    interval = lowered.get("x-hubspot-ratelimit-interval-milliseconds")
    try:
        return int(interval) / 1000 if interval else 10.0
    except ValueError:
        return 10.0


def _is_api_exception(exc: BaseException) -> bool:
    # Each generated package has its own ApiException; any of them carries the HTTP status.
    return isinstance(exc, API_EXCEPTIONS) or (
        type(exc).__module__.startswith("hubspot.")
        and isinstance(getattr(exc, "status", None), int)
    )


def hub_error(exc: BaseException, operation: str) -> HuitongError:
    """The ``hub.errors`` class for a failure of one SDK call."""
    if _is_api_exception(exc):
        status = int(getattr(exc, "status", 0) or 0)
        body = _error_body(getattr(exc, "body", None))
        headers = dict(getattr(exc, "headers", None) or {})
        category = str(body.get("category") or body.get("errorType") or "")
        message = str(body.get("message") or getattr(exc, "reason", "") or "")
        where = f"HubSpot {operation}: {status} {category}".rstrip()
        if status == 401:
            return AuthError(f"{where}: {message} ({NO_REFRESH_HINT})")
        if status == 403:
            return FatalError(f"{where}: {message} (grant the private app the missing scopes)")
        if status == 429:
            return RateLimited(f"{where}: {message}", retry_after=retry_after_from(headers, body))
        if status == 0 or status >= 500:
            return RetriableError(f"{where}: {message or 'no usable response'}")
        return RequestRejected(status, category or "ERROR", message, body.get("context"))
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError):
        return RetriableError(f"HubSpot {operation}: {type(exc).__name__}: {exc}")
    if isinstance(exc, HuitongError):
        return exc
    return FatalError(f"HubSpot {operation}: unexpected {type(exc).__name__}: {exc}")


class HubSpotClient:
    """The calls the connector makes, over one SDK instance, paced and retried."""

    def __init__(
        self,
        settings: HubSpotSettings,
        pacer: RateBudget | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        rate = settings.rate
        self.pacer: RateBudget = pacer or LocalPacer(
            rate.burst_max,
            rate.interval_seconds,
            rate.search_per_second,
            rate.daily_max,
            rate.headroom,
        )
        self._sleep = sleep
        self.retry_waits: list[float] = []  # every wait a retry asked for, for tests and reports
        self.operations: Counter[str] = Counter()  # attempts per operation
        sdk = HubSpot(
            access_token=settings.token.get_secret_value(), host=settings.base_url, retry=False
        )
        crm = sdk.crm
        self._objects = crm.objects.basic_api
        self._batch = crm.objects.batch_api
        self._search = crm.objects.search_api
        self._associations = crm.associations.v4.batch_api
        self._merge_apis = {
            "contacts": (crm.contacts.basic_api, ContactMergeInput),
            "companies": (crm.companies.basic_api, CompanyMergeInput),
        }
        self._owners = crm.owners.owners_api
        self._properties = crm.properties.core_api
        self._association_models = AssociationsConfiguration()
        connect = min(settings.timeout_seconds, 10.0)
        self._timeout = (connect, settings.timeout_seconds)

    def __repr__(self) -> str:
        return f"HubSpotClient(base_url={self.settings.base_url!r})"

    # ---- the call machinery --------------------------------------------------------------------

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_random_exponential(
            multiplier=self.settings.retry_initial_seconds, max=self.settings.retry_cap_seconds
        )(state)
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            # Honour the announced wait, plus a little jitter so workers do not return in step.
            return error.retry_after + random.uniform(0, 0.1 * max(error.retry_after, 1.0))
        return float(backoff)

    def _retryable(self, error: BaseException) -> bool:
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return error.retry_after <= self.settings.retry_max_seconds
        return isinstance(error, RetriableError)

    def _sleep_or_skip(self, seconds: float) -> None:
        self.retry_waits.append(seconds)
        if self.settings.retry_waits:
            self._sleep(seconds)

    def call(
        self,
        operation: str,
        fn: Callable[..., Any],
        *args: Any,
        search: bool = False,
        raw: bool = False,
        **kw: Any,
    ) -> Any:
        """Run one SDK ``*_with_http_info`` call with pacing and retries; return its data: the
        SDK's model, or with ``raw`` the JSON body as plain dicts and lists.

        Bulk reads use ``raw``: the SDK's model building parses two datetimes per record with
        dateutil, which costs more than the request itself (a 10,000-record walk spent 3.5 s of
        9 there); the request is still built, authenticated, sent and checked by the SDK."""
        retrying = Retrying(
            retry=retry_if_exception(self._retryable),
            wait=self._wait,
            stop=stop_after_attempt(self.settings.retry_max_attempts)
            # stop when the next wait would pass the cap, not after it has
            | stop_before_delay(self.settings.retry_max_seconds),
            sleep=self._sleep_or_skip,
            reraise=True,
        )
        return retrying(self._attempt, operation, fn, args, kw, search, raw)

    def _attempt(
        self,
        operation: str,
        fn: Callable[..., Any],
        args: Sequence[Any],
        kw: Mapping[str, Any],
        search: bool,
        raw: bool,
    ) -> Any:
        self.operations[operation] += 1
        with self.pacer.slot(search=search):
            try:
                if raw:
                    response = fn(
                        *args, _request_timeout=self._timeout, _preload_content=False, **kw
                    )
                    try:
                        body = response.data  # a dropped connection fails here, inside the try
                    finally:
                        response.release_conn()
                    data, headers = (orjson.loads(body) if body else None), response.headers
                else:
                    data, _status, headers = fn(*args, _request_timeout=self._timeout, **kw)
            except Exception as exc:
                raise hub_error(exc, operation) from None
        self.pacer.observe(dict(headers or {}))
        return data

    # ---- objects -------------------------------------------------------------------------------

    def list_page(
        self,
        object_type: str,
        *,
        after: str | None,
        properties: Sequence[str],
        associations: Sequence[str] = (),
        archived: bool = False,
    ) -> tuple[list[dict[str, Any]], str | None]:
        page = self.call(
            f"list {object_type}",
            self._objects.get_page_with_http_info,
            object_type,
            raw=True,
            limit=self.settings.list_page_size,
            after=after,
            properties=list(properties),
            associations=list(associations) or None,
            archived=archived,
        )
        return list(page.get("results") or []), _next_after(page)

    def search(
        self,
        object_type: str,
        *,
        filter_groups: Sequence[Sequence[Mapping[str, Any]]],
        sort_property: str,
        properties: Sequence[str],
        after: str | None = None,
    ) -> tuple[list[dict[str, Any]], int, str | None]:
        request = PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(filters=[SearchFilter(**f) for f in group]) for group in filter_groups
            ],
            # The search guide sends sort objects; the SDK types them as strings and passes
            # them through as given.
            sorts=[{"propertyName": sort_property, "direction": "ASCENDING"}],
            properties=list(properties),
            limit=self.settings.search_page_size,
            after=after,
        )
        page = self.call(
            f"search {object_type}",
            self._search.do_search_with_http_info,
            object_type,
            request,
            search=True,
            raw=True,
        )
        return list(page.get("results") or []), int(page.get("total") or 0), _next_after(page)

    def batch_upsert(self, object_type: str, inputs: Sequence[Mapping[str, Any]]) -> BatchReply:
        body = BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                SimplePublicObjectBatchInputUpsert(
                    id=i["id"],
                    id_property=i["idProperty"],
                    object_write_trace_id=i.get("objectWriteTraceId"),
                    properties=dict(i["properties"]),
                )
                for i in inputs
            ]
        )
        reply = self.call(
            f"batch upsert {object_type}", self._batch.upsert_with_http_info, object_type, body
        )
        return BatchReply(list(reply.results or []), list(getattr(reply, "errors", None) or []))

    def batch_update(self, object_type: str, inputs: Sequence[Mapping[str, Any]]) -> BatchReply:
        body = BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(
                    id=i["id"],
                    object_write_trace_id=i.get("objectWriteTraceId"),
                    properties=dict(i["properties"]),
                )
                for i in inputs
            ]
        )
        reply = self.call(
            f"batch update {object_type}", self._batch.update_with_http_info, object_type, body
        )
        return BatchReply(list(reply.results or []), list(getattr(reply, "errors", None) or []))

    def batch_read(
        self,
        object_type: str,
        ids: Sequence[str],
        *,
        properties: Sequence[str],
        id_property: str | None = None,
    ) -> BatchReply:
        body = BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in ids],
            properties=list(properties),
            properties_with_history=[],
            id_property=id_property,
        )
        reply = self.call(
            f"batch read {object_type}", self._batch.read_with_http_info, object_type, body
        )
        return BatchReply(list(reply.results or []), list(getattr(reply, "errors", None) or []))

    def batch_archive(self, object_type: str, ids: Sequence[str]) -> None:
        body = BatchInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=i) for i in ids])
        self.call(
            f"batch archive {object_type}", self._batch.archive_with_http_info, object_type, body
        )

    def get(self, object_type: str, object_id: str, properties: Sequence[str]) -> Any:
        return self.call(
            f"get {object_type}",
            self._objects.get_by_id_with_http_info,
            object_type,
            object_id,
            properties=list(properties),
        )

    def merge(self, object_type: str, primary_id: str, merged_id: str) -> Any:
        if object_type not in self._merge_apis:
            raise FatalError(
                f"HubSpot merges {', '.join(self._merge_apis)} only, not {object_type}"
            )
        api, model = self._merge_apis[object_type]
        body = model(primary_object_id=primary_id, object_id_to_merge=merged_id)
        return self.call(f"merge {object_type}", api.merge_with_http_info, body)

    # ---- associations (v4) ---------------------------------------------------------------------

    def read_associations(
        self, from_type: str, to_type: str, ids: Sequence[str]
    ) -> dict[str, list[tuple[str, set[int]]]]:
        """``{from id: [(to id, type ids)]}`` for up to 1,000 ids (the batch read limit, changelog
        "Bug Fix: Batch Read Limit for HubSpot Associations API")."""
        shared = self._association_models  # a model built without one makes its own, slowly
        body = BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[
                PublicFetchAssociationsBatchRequest(id=i, local_vars_configuration=shared)
                for i in ids
            ],
            local_vars_configuration=shared,
        )
        reply = self.call(
            f"read associations {from_type}->{to_type}",
            self._associations.get_page_with_http_info,
            from_type,
            to_type,
            body,
            raw=True,
        )
        found: dict[str, list[tuple[str, set[int]]]] = {}
        for item in reply.get("results") or []:
            source = str(item["from"]["id"])
            found[source] = [
                (
                    str(to["toObjectId"]),
                    {int(t["typeId"]) for t in to.get("associationTypes") or []},
                )
                for to in item.get("to") or []
            ]
        return found

    def create_associations(
        self, from_type: str, to_type: str, pairs: Sequence[tuple[str, str]], type_id: int
    ) -> list[Any]:
        """Create ``type_id`` associations for (from id, to id) pairs; returns the per-pair errors."""
        body = BatchInputPublicAssociationMultiPost(
            inputs=[
                PublicAssociationMultiPost(
                    _from=AssociationObjectId(id=a),
                    to=AssociationObjectId(id=b),
                    types=[
                        AssociationSpec(
                            association_category=HUBSPOT_DEFINED, association_type_id=type_id
                        )
                    ],
                )
                for a, b in pairs
            ]
        )
        reply = self.call(
            f"create associations {from_type}->{to_type}",
            self._associations.create_with_http_info,
            from_type,
            to_type,
            body,
        )
        return list(getattr(reply, "errors", None) or [])

    def get_property(self, object_type: str, name: str) -> dict[str, Any]:
        """A property's definition (scope ``crm.schemas.<object>.read``)."""
        return dict(
            self.call(
                f"get property {object_type}.{name}",
                self._properties.get_by_name_with_http_info,
                object_type,
                name,
                raw=True,
            )
            or {}
        )

    # ---- owners --------------------------------------------------------------------------------

    def owners_page(self, after: str | None) -> tuple[list[Any], str | None]:
        page = self.call(
            "list owners",
            self._owners.get_page_with_http_info,
            after=after,
            limit=500,
            archived=False,
        )
        nxt = page.paging.next.after if page.paging and page.paging.next else None
        return list(page.results or []), nxt

    # ---- checks --------------------------------------------------------------------------------

    def probe_write(self, object_type: str) -> None:
        """An empty batch archive: passes authentication and the write-scope check and changes
        nothing. A 400 for the empty input list still proves the scope (scopes are checked first)."""
        try:
            self.batch_archive(object_type, [])
        except RequestRejected as rejected:
            if rejected.status != 400:
                raise


def _next_after(page: Mapping[str, Any]) -> str | None:
    after = ((page.get("paging") or {}).get("next") or {}).get("after")
    return str(after) if after not in (None, "") else None


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
