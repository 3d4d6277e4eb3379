"""A faithful local HubSpot CRM v3/v4 API: an ASGI app over an in-memory portal.

What it reproduces, with the source of each behaviour, is documented in the modules it is built
from: ``emulator_objects`` (objects, batch, search, merge, properties), ``emulator_associations``
(v4), ``emulator_portal`` (state and its rules), ``emulator_search``, ``emulator_ratelimit``,
``emulator_errors``, ``emulator_webhooks`` and ``signature``. This module wires them: routes,
private-app bearer authentication, scopes, the per-token rate limiter with its headers, call
counting and the ``connectors.emulation`` fault injector answering HubSpot's own 429/5xx bodies.

Use::

    emulator = HubSpotEmulator()
    with emulator.serve():
        client = emulator.client()          # a real hubspot.HubSpot pointed at the emulator
        client.crm.contacts.basic_api.get_page(limit=10)
    emulator.portal.count("contacts")        # inspect or seed state directly

Authentication (apis.md §2.1): ``Authorization: Bearer <token>``; a missing or unknown token is a
401 ``INVALID_AUTHENTICATION``, an expired one ``EXPIRED_AUTHENTICATION`` ("The OAuth token used to
make this call expired N second(s) ago.", [V]); a token without the object's scope is a 403
``MISSING_SCOPES`` [K].
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.emulation import ASGIApp, FaultInjector, FaultPlan, LoopbackServer
from connectors.hubspot import emulator_associations as assoc
from connectors.hubspot import emulator_objects as objects
from connectors.hubspot.emulator_errors import (
    JSON_CONTENT_TYPE,
    HubSpotError,
    rate_limit_body,
    server_error_body,
)
from connectors.hubspot.emulator_http import Call, Reply
from connectors.hubspot.emulator_portal import DEFAULT_PORTAL_ID, DEFAULT_TOKEN, Portal
from connectors.hubspot.emulator_ratelimit import RateLimitConfig, RateLimiter
from connectors.hubspot.emulator_schema import OBJECT_TYPE_ALIASES
from connectors.hubspot.emulator_webhooks import WebhookDispatcher

log = logging.getLogger(__name__)

Handler = Callable[[Call], Reply]

MISSING_CREDENTIALS = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
    "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    handler: Handler
    access: str  # read | write | schema
    is_search: bool = False


V3 = "/crm/v3/objects/{objectType}"
V4_OBJECT = "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}"
V4_BATCH = "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch"

ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("GET", V3, objects.list_objects, "read"),
    RouteSpec("POST", V3, objects.create_object, "write"),
    RouteSpec("POST", f"{V3}/search", objects.search_objects, "read", is_search=True),
    RouteSpec("POST", f"{V3}/merge", objects.merge_objects, "write"),
    RouteSpec("POST", f"{V3}/batch/read", objects.batch_read, "read"),
    RouteSpec("POST", f"{V3}/batch/create", objects.batch_create, "write"),
    RouteSpec("POST", f"{V3}/batch/update", objects.batch_update, "write"),
    RouteSpec("POST", f"{V3}/batch/upsert", objects.batch_upsert, "write"),
    RouteSpec("POST", f"{V3}/batch/archive", objects.batch_archive, "write"),
    RouteSpec("GET", f"{V3}/{{objectId}}", objects.get_object, "read"),
    RouteSpec("PATCH", f"{V3}/{{objectId}}", objects.update_object, "write"),
    RouteSpec("DELETE", f"{V3}/{{objectId}}", objects.archive_object, "write"),
    RouteSpec("GET", "/crm/v3/properties/{objectType}", objects.list_properties, "schema"),
    RouteSpec(
        "GET", "/crm/v3/properties/{objectType}/{propertyName}", objects.get_property, "schema"
    ),
    RouteSpec("GET", V4_OBJECT, assoc.list_associations, "read"),
    RouteSpec(
        "PUT",
        "/crm/v4/objects/{fromObjectType}/{fromObjectId}/associations/default/"
        "{toObjectType}/{toObjectId}",
        assoc.create_default,
        "write",
    ),
    RouteSpec("PUT", f"{V4_OBJECT}/{{toObjectId}}", assoc.create_labelled, "write"),
    RouteSpec("DELETE", f"{V4_OBJECT}/{{toObjectId}}", assoc.delete_pair, "write"),
    RouteSpec("POST", f"{V4_BATCH}/read", assoc.batch_read, "read"),
    RouteSpec("POST", f"{V4_BATCH}/create", assoc.batch_create, "write"),
    RouteSpec("POST", f"{V4_BATCH}/archive", assoc.batch_archive, "write"),
    RouteSpec("POST", f"{V4_BATCH}/associate/default", assoc.batch_create_default, "write"),
    RouteSpec("POST", f"{V4_BATCH}/labels/archive", assoc.batch_archive_labels, "write"),
)


def _json_response(status: int, body: Any, headers: dict[str, str]) -> Response:
    if body is None:
        return Response(status_code=status, headers=headers)
    content = json.dumps(body, separators=(",", ":")).encode("utf-8")
    return Response(content, status_code=status, headers=headers, media_type=JSON_CONTENT_TYPE)


class HubSpotEmulator:
    """The emulator: ``.app`` (ASGI, faults in front), ``.portal`` (state), ``.faults`` (FaultPlan),
    ``.limiter``, ``.webhooks``; ``serve()`` runs it on loopback and ``client()`` returns a real
    ``hubspot.HubSpot`` pointed at it."""

    def __init__(
        self,
        *,
        portal: Portal | None = None,
        portal_id: int = DEFAULT_PORTAL_ID,
        rate_limits: RateLimitConfig | None = None,
        faults: FaultPlan | None = None,
        limiter_clock: Callable[[], float] | None = None,
    ) -> None:
        self.portal = portal or Portal(portal_id=portal_id)
        self.limiter = RateLimiter(rate_limits or RateLimitConfig())
        if limiter_clock is not None:
            self.limiter.clock = limiter_clock
        self.faults = faults or FaultPlan()
        self.webhooks = WebhookDispatcher(self.portal)
        self.internal_errors: list[BaseException] = []
        self.api: ASGIApp = self._build_api()
        self.app: ASGIApp = FaultInjector(
            self.api, self.faults, self._injected_rate_limit, self._injected_server_error
        )
        self.url: str | None = None

    # ---- serving -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def serve(self, wrap: Callable[[ASGIApp], ASGIApp] | None = None) -> Iterator[HubSpotEmulator]:
        """Serve on 127.0.0.1 (an ephemeral port) for the duration of the block; ``wrap`` may put a
        middleware (a recorder, say) around ``.app``."""
        app = wrap(self.app) if wrap is not None else self.app
        with LoopbackServer(app) as server:
            self.url = server.url
            try:
                yield self
            finally:
                self.url = None

    def client(self, access_token: str = DEFAULT_TOKEN, **kwargs: Any) -> Any:
        """A real ``hubspot.HubSpot`` client whose configuration host is this emulator.

        apis.md §0.2: every unknown kwarg is set on the generated ``Configuration``, ``host``
        included; ``kwargs`` pass through (``retry=urllib3.Retry(...)``, for instance)."""
        if self.url is None:
            raise RuntimeError("the emulator is not serving: use `with emulator.serve():`")
        from hubspot import HubSpot

        return HubSpot(access_token=access_token, host=self.url, **kwargs)

    # ---- the ASGI app --------------------------------------------------------------------------

    def _build_api(self) -> ASGIApp:
        routes = [Route(spec.path, self._endpoint(spec), methods=[spec.method]) for spec in ROUTES]
        app = Starlette(routes=routes)
        app.add_exception_handler(404, self._unknown_route)
        app.add_exception_handler(405, self._unknown_route)
        return app

    async def _unknown_route(self, request: Request, exc: Exception) -> Response:
        error = HubSpotError(404, "OBJECT_NOT_FOUND", "resource not found")
        return _json_response(404, error.body(), {})

    def _endpoint(self, spec: RouteSpec) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            raw_body = await request.body()
            token = self._bearer(request)
            try:
                reply = self._dispatch(spec, request, raw_body, token)
            except HubSpotError as error:
                reply = Reply(error.status, error.body(), error.headers)
            except Exception as exc:  # an emulator bug: answer 500, keep it for the tests
                log.exception("HubSpot emulator failed on %s %s", spec.method, request.url.path)
                self.internal_errors.append(exc)
                reply = Reply(500, server_error_body(500))
            self.portal.record_call(spec.method, request.url.path, reply.status, token)
            return _json_response(reply.status, reply.body, reply.headers)

        return endpoint

    @staticmethod
    def _bearer(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None

    def _dispatch(
        self, spec: RouteSpec, request: Request, raw_body: bytes, token: str | None
    ) -> Reply:
        self._authenticate(token)
        assert token is not None
        decision = self.limiter.check(token, spec.is_search)
        if not decision.allowed:
            assert decision.policy is not None
            body = rate_limit_body(decision.policy, self.portal.portal_id)
            return Reply(429, body, decision.headers)
        try:
            self._authorize(token, spec, request)
            reply = spec.handler(Call(request, self.portal, raw_body))
        except HubSpotError as error:
            # Counted requests report the budget whatever their outcome.
            error.headers = {**decision.headers, **error.headers}
            raise
        reply.headers = {**decision.headers, **reply.headers}
        return reply

    def _authenticate(self, token: str | None) -> None:
        entry = self.portal.tokens.get(token) if token else None
        if entry is None:
            raise HubSpotError(401, "INVALID_AUTHENTICATION", MISSING_CREDENTIALS)
        now = self.portal.clock()
        if entry.expires_at_ms is not None and now >= entry.expires_at_ms:
            seconds = (now - entry.expires_at_ms) // 1000
            raise HubSpotError(
                401,
                "EXPIRED_AUTHENTICATION",
                f"The OAuth token used to make this call expired {seconds} second(s) ago.",
            )

    def _authorize(self, token: str, spec: RouteSpec, request: Request) -> None:
        scopes = self.portal.tokens[token].scopes
        if scopes is None:
            return
        raw_type = request.path_params.get("objectType") or request.path_params.get(
            "fromObjectType"
        )
        canonical = OBJECT_TYPE_ALIASES.get(str(raw_type).lower())
        if canonical is None:
            return  # the handler answers the unknown type
        if spec.access == "schema":
            required = f"crm.schemas.{canonical}.read"
        else:
            required = f"{self.portal.types[canonical].scope}.{spec.access}"
        if required not in scopes:
            raise HubSpotError(
                403,
                "MISSING_SCOPES",
                "This app hasn't been granted all required scopes to make this call. "
                "Read more about required scopes here: https://developers.hubspot.com/scopes.",
                errors=[
                    {
                        "message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": [required]},
                    }
                ],
                links={"scopes": "https://developers.hubspot.com/scopes"},
            )

    # ---- answers for the fault injector --------------------------------------------------------

    def _injected_rate_limit(self) -> tuple[int, dict[str, str], bytes]:
        config = self.limiter.config
        headers = {
            "content-type": JSON_CONTENT_TYPE,
            "X-HubSpot-RateLimit-Daily": str(config.daily_max),
            "X-HubSpot-RateLimit-Daily-Remaining": str(config.daily_max),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(config.interval_ms),
            "X-HubSpot-RateLimit-Max": str(config.burst_max),
            "X-HubSpot-RateLimit-Remaining": "0",
            "X-HubSpot-RateLimit-Secondly": str(-(-config.burst_max * 1000 // config.interval_ms)),
            "X-HubSpot-RateLimit-Secondly-Remaining": "0",
        }
        body = rate_limit_body("TEN_SECONDLY_ROLLING", self.portal.portal_id)
        return 429, headers, json.dumps(body).encode("utf-8")

    def _injected_server_error(self, status: int) -> tuple[dict[str, str], bytes]:
        body = server_error_body(status)
        return {"content-type": JSON_CONTENT_TYPE}, json.dumps(body).encode("utf-8")
