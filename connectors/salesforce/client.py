"""The simple-salesforce client built from settings, and every call made through one gate.

``SalesforceClient.call`` runs a call with the pacer's slot, turns simple-salesforce's and
requests' exceptions into ``hub.errors`` classes, refreshes an expired session once, and retries
the retriable ones with exponential backoff and jitter, capped in attempts and in total time.

How Salesforce fails, and what the caller does (apis.md §0.1 for the client's exception per status,
§1.3 for the bodies):

==========================================================  ===========================================
answer                                                      raised
==========================================================  ===========================================
401 INVALID_SESSION_ID                                      simple-salesforce re-logs in by itself when
                                                            it logged in; what still reaches us is
                                                            refreshed once (new login), then AuthError
login refused (INVALID_LOGIN, invalid_grant, ...)           AuthError
403 REQUEST_LIMIT_EXCEEDED "ConcurrentPerOrgLongTxn ..."    RateLimited (concurrency: retried)
403 REQUEST_LIMIT_EXCEEDED "TotalRequests Limit exceeded."  FatalError: the daily allowance is spent
other 403 (INSUFFICIENT_ACCESS, API_DISABLED_FOR_ORG...)    FatalError
400 UNABLE_TO_LOCK_ROW                                      RetriableError
400 INVALID_QUERY_LOCATOR                                   QueryLocatorExpired (the reader re-queries)
other 400 / 404 (MALFORMED_QUERY, INVALID_FIELD, NOT_FOUND) FatalError: the configuration names
                                                            something the org does not have
5xx, timeout, dropped connection                            RetriableError
==========================================================  ===========================================

Per-record errors inside sObject Collections results are not exceptions: the writer turns them into
failed ``WriteResult``s.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

from connectors.salesforce.pacing import Pacer, shared_pacer
from connectors.salesforce.settings import SalesforceSettings
from hub.errors import (
    AuthError,
    FatalError,
    HuitongError,
    RateLimited,
    RetriableError,
    sanitize_url,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# Per-record or per-call codes that succeed when simply tried again (SOAP/REST "Core Data Types
# Used in API Calls", StatusCode [D]; UNABLE_TO_LOCK_ROW apis.md §1.3).
TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION"})
# Login failures that are the service's trouble, not the credentials'.
_LOGIN_TRANSIENT = frozenset(
    {"UNKNOWN_EXCEPTION", "SERVER_UNAVAILABLE", "SERVER_UNAVAILABLE_ERROR"}
)
_LOGIN_RATE = frozenset({"LOGIN_RATE_EXCEEDED", "REQUEST_LIMIT_EXCEEDED"})


class QueryLocatorExpired(HuitongError):
    """A ``nextRecordsUrl`` is no longer valid (idle 15 minutes, or more than 10 cursors open)."""


def build_salesforce(settings: SalesforceSettings, session: requests.Session) -> Salesforce:
    """A logged-in ``simple_salesforce.Salesforce`` for the configured flow (this logs in)."""
    version = settings.api_version

    def secret(name: str) -> str:
        value = getattr(settings, name)
        return "" if value is None else str(value.get_secret_value())

    if settings.auth == "soap":
        # A security_token argument, even "", selects the SOAP login (apis.md §0.1 [V]).
        return Salesforce(
            username=settings.username,
            password=secret("password"),
            security_token=secret("security_token"),
            domain=settings.domain,
            session=session,
            version=version,
        )
    if settings.auth == "password":
        # OAuth password grant: the security token is appended to the password [D].
        return Salesforce(
            username=settings.username,
            password=secret("password") + secret("security_token"),
            consumer_key=secret("consumer_key"),
            consumer_secret=secret("consumer_secret"),
            domain=settings.domain,
            session=session,
            version=version,
        )
    if settings.auth == "client_credentials":
        return Salesforce(
            consumer_key=secret("consumer_key"),
            consumer_secret=secret("consumer_secret"),
            domain=settings.domain,
            session=session,
            version=version,
        )
    return Salesforce(
        instance_url=settings.instance_url,
        session_id=secret("session_id"),
        session=session,
        version=version,
    )


def _with_default_timeout(session: requests.Session, seconds: float) -> requests.Session:
    """Every request of the session gets ``timeout=seconds`` unless it names its own: login calls
    in simple-salesforce pass none, and a call without a timeout can hang forever."""
    original = session.request

    def request(method: str | bytes, url: str | bytes, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", seconds)
        return original(method, url, **kwargs)

    setattr(session, "request", request)  # noqa: B010 - an instance attribute shadows the method
    return session


def first_error(content: Any) -> tuple[str, str]:
    """The (errorCode, message) of a REST error body ``[{"message","errorCode"}]``."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        item = content[0]
        return str(item.get("errorCode") or ""), str(item.get("message") or "")
    if isinstance(content, bytes):
        return "", content.decode("utf-8", "replace")[:300]
    return "", str(content)[:300] if content is not None else ""


def daily_limit_error(system: str, message: str, now: datetime | None = None) -> FatalError:
    latest = (now or datetime.now(UTC)) + timedelta(hours=24)
    return FatalError(
        f"{system}: Salesforce refused the call: the org's daily API allowance is spent "
        f"(REQUEST_LIMIT_EXCEEDED: {message}). Salesforce counts a rolling 24 hours: calls resume "
        f"as usage over the preceding 24 hours drops below the limit, at the latest by "
        f"{latest:%Y-%m-%d %H:%M} UTC. Raise the limit or lower the sync frequency."
    )


def translate(system: str, what: str, exc: Exception) -> HuitongError:
    """The ``hub.errors`` class for an exception of simple-salesforce or requests."""
    if isinstance(exc, SalesforceAuthenticationFailed):
        return _login_error(system, exc)
    if isinstance(exc, SalesforceError):
        code, message = first_error(exc.content)
        where = f"{system}: {what}"
        said = f"{code}: {message}" if code else message
        if isinstance(exc, SalesforceRefusedRequest):
            if code == "REQUEST_LIMIT_EXCEEDED" and "totalrequests" in message.lower():
                return daily_limit_error(system, message)
            if code == "REQUEST_LIMIT_EXCEEDED":
                return RateLimited(f"{where}: Salesforce refused for concurrency ({said})")
            return FatalError(f"{where}: Salesforce refused the request (HTTP 403 {said})")
        if isinstance(exc, SalesforceExpiredSession):
            return AuthError(f"{where}: the session is no longer valid ({said})")
        if code == "INVALID_QUERY_LOCATOR":
            return QueryLocatorExpired(f"{where}: {said}")
        if code in TRANSIENT_CODES or (
            isinstance(exc, SalesforceGeneralError) and exc.status >= 500
        ):
            return RetriableError(f"{where}: HTTP {exc.status} {said}".rstrip())
        if isinstance(exc, SalesforceGeneralError) and exc.status == 429:
            return RateLimited(f"{where}: HTTP 429 {said}".rstrip())
        if isinstance(exc, SalesforceMalformedRequest | SalesforceResourceNotFound):
            return FatalError(f"{where}: HTTP {exc.status} {said}")
        return FatalError(f"{where}: HTTP {exc.status} {said}".rstrip())
    if isinstance(
        exc,
        requests.Timeout
        | requests.ConnectionError
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError,
    ):
        detail = f"{type(exc).__name__}"
        url = getattr(getattr(exc, "request", None), "url", None)
        if url:
            detail += f" calling {sanitize_url(url)}"
        return RetriableError(f"{system}: {what}: {detail}")
    if isinstance(exc, requests.RequestException):
        return FatalError(f"{system}: {what}: {type(exc).__name__}")
    if isinstance(exc, ValueError):  # a 200 whose body is not JSON: a proxy's page, a cut answer
        return RetriableError(f"{system}: {what}: unreadable answer ({type(exc).__name__})")
    return FatalError(f"{system}: {what}: {type(exc).__name__}")


def _login_error(system: str, exc: SalesforceAuthenticationFailed) -> HuitongError:
    code = exc.code
    text = f"{code}: {exc.auth_message}" if code is not None else exc.auth_message
    text = text.strip()[:300]
    if (isinstance(code, str) and code.upper() in _LOGIN_RATE) or "REQUEST_LIMIT_EXCEEDED" in text:
        return RateLimited(f"{system}: Salesforce refused the login for now ({text})")
    # A refused login always names its reason (a SOAP fault code, an OAuth error); no code, or
    # only an HTTP status, means the answer was not the login service's: a gateway, an outage.
    if code is None or isinstance(code, int) or code in _LOGIN_TRANSIENT:
        return RetriableError(f"{system}: login failed on Salesforce's side ({text})")
    return AuthError(f"{system}: Salesforce refused the login ({text})")


class SalesforceClient:
    """One system's authenticated client. Logs in on first use, not when built."""

    def __init__(
        self,
        system: str,
        settings: SalesforceSettings,
        *,
        session: requests.Session | None = None,
        pacer: Pacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.system = system
        self.settings = settings
        http = session or requests.Session()
        if settings.proxies:
            http.proxies.update(settings.proxies)
        self.session = _with_default_timeout(http, settings.timeout_seconds)
        self.pacer = pacer or shared_pacer(
            f"salesforce:{system}", settings.daily_reserve, settings.max_concurrent_requests
        )
        self._sleep = sleep if settings.retry_waits else _no_wait
        self._sf: Salesforce | None = None
        self.calls = 0  # REST calls sent (retries included)
        self.logins = 0
        # Per thread: the Date of the thread's last answer, and when its latest query ran.
        self._local = threading.local()
        self.session.hooks["response"].append(self._note_date)

    def __repr__(self) -> str:
        return f"SalesforceClient({self.system!r}, auth={self.settings.auth!r})"

    @property
    def can_login(self) -> bool:
        return self.settings.auth != "session"

    def connect(self) -> Salesforce:
        """The logged-in client (logging in if needed); errors translated, not retried."""
        if self._sf is None:
            self.logins += 1
            try:
                self._sf = build_salesforce(self.settings, self.session)
            except (AttributeError, KeyError, TypeError) as exc:
                # simple-salesforce reading a login answer of an unexpected shape (a JSON list,
                # a proxy's page): not a refusal of the credentials.
                raise RetriableError(
                    f"{self.system}: login answer could not be read ({type(exc).__name__})"
                ) from None
            except Exception as exc:
                raise self._scrubbed(translate(self.system, "login", exc)) from None
        return self._sf

    def call(self, what: str, fn: Callable[[Salesforce], T]) -> T:
        """Run ``fn(sf)``: paced, translated, a stale session refreshed once, retries bounded."""
        settings = self.settings
        retrying = Retrying(
            retry=retry_if_exception_type(RetriableError),
            stop=stop_after_attempt(settings.retry_max_attempts)
            | stop_before_delay(settings.retry_max_seconds),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        return retrying(self._attempt, what, fn)

    def restful(
        self,
        what: str,
        path: str,
        method: str = "GET",
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        def send(sf: Salesforce) -> Any:
            return sf.restful(path, params=params, method=method, json=json)

        return self.call(what, send)

    def query_pages(self, soql: str, include_deleted: bool, what: str) -> Iterator[dict[str, Any]]:
        """Each page of a query in turn, following ``nextRecordsUrl`` until ``done``."""
        headers = {"Sforce-Query-Options": f"batchSize={self.settings.query_batch_size}"}

        def first(sf: Salesforce) -> Any:
            return sf.query(soql, include_deleted=include_deleted, headers=headers)

        page = self.call(what, first)
        # The query's snapshot was taken just before its first page was answered; the Date header
        # (whole seconds, so floored) is the server's clock for it.
        answered = self.server_time
        self._local.query_time = answered - timedelta(seconds=1) if answered else None
        seen_urls: set[str] = set()
        while True:
            yield page
            if page.get("done", True):
                return
            next_url = str(page["nextRecordsUrl"])
            if next_url in seen_urls:  # a paginator that repeats itself would loop forever
                raise FatalError(f"{self.system}: {what}: Salesforce repeated {next_url}")
            seen_urls.add(next_url)

            def more(sf: Salesforce, url: str = next_url) -> Any:
                return sf.query_more(url, identifier_is_url=True, headers=headers)

            page = self.call(what, more)

    @property
    def server_time(self) -> datetime | None:
        """The server's clock (``Date`` header) at this thread's last answer."""
        return getattr(self._local, "server_time", None)

    @property
    def query_time(self) -> datetime | None:
        """When this thread's latest query took its snapshot, by the server's clock."""
        return getattr(self._local, "query_time", None)

    def _note_date(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        header = response.headers.get("Date")
        if header:
            with contextlib.suppress(TypeError, ValueError):
                self._local.server_time = parsedate_to_datetime(header).astimezone(UTC)

    def daily_usage(self) -> tuple[int, int] | None:
        usage = self.pacer.budget.usage()
        return (usage.used, usage.limit) if usage else None

    # --- one attempt --------------------------------------------------------------------------

    def _attempt(self, what: str, fn: Callable[[Salesforce], T]) -> T:
        refreshed = False
        while True:
            sf = self.connect()
            try:
                with self.pacer.slot(self._sleep):
                    self.calls += 1
                    result = fn(sf)
            except SalesforceExpiredSession as exc:
                # simple-salesforce already re-logged in (when it can) and was refused again.
                if refreshed or not self.can_login:
                    hint = "" if self.can_login else "; give a new session_id or use a login flow"
                    raise self._scrubbed(
                        AuthError(f"{translate(self.system, what, exc)}{hint}")
                    ) from None
                refreshed = True
                self._sf = None
                log.warning("%s: %s: session refused; logging in again", self.system, what)
                continue
            except (SalesforceError, requests.RequestException, ValueError) as exc:
                raise self._scrubbed(translate(self.system, what, exc)) from None
            self._observe(sf)
            return result

    def _observe(self, sf: Salesforce) -> None:
        usage = sf.api_usage.get("api-usage")
        if usage is not None:  # simple_salesforce.util.Usage(used, total)
            self.pacer.budget.observe(int(usage.used), int(usage.total))

    def _wait(self, state: RetryCallState) -> float:
        settings = self.settings
        backoff = wait_exponential_jitter(
            initial=settings.retry_initial_seconds,
            max=settings.retry_cap_seconds,
            jitter=settings.retry_initial_seconds,
        )(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited):
            # The org refused for concurrency: every request of this system holds, this one too,
            # so the wait is the pacer's (taken in ``slot``), not a second one here.
            self.pacer.pause(max(backoff, exc.retry_after or 0.0) if settings.retry_waits else 0.0)
            return 0.0
        return backoff

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        wait = max(wait, self.pacer.pause_remaining())
        log.warning("%s (attempt %d; retrying in %.1f s)", exc, state.attempt_number, wait)

    def _scrubbed(self, error: HuitongError) -> HuitongError:
        """The same error with any secret value masked (a server may echo what it was sent)."""
        text = str(error)
        clean = scrub(text, self.settings.secret_values())
        if clean == text:
            return error
        copy = type(error).__new__(type(error))
        copy.__dict__.update(error.__dict__)
        copy.args = (clean,)
        return copy


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _no_wait(_seconds: float) -> None:
    return None
