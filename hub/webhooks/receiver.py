"""The webhook receiver: verify, store in the inbox, then reply; nothing else on the request path.

``create_app(settings, inbox)`` builds a FastAPI app with one route per system that has a
``webhook`` section (``POST /webhooks/<system>`` unless ``path`` says otherwise; WeCom adds ``GET``
for its URL check) and ``/healthz``, ``/readyz``, ``/metrics``.

For each request, in this order:

1. the caller's address against ``allowed_networks`` (403);
2. the body, read as a stream and abandoned past ``max_body_bytes`` (413): a huge body is never held;
3. the scheme's signature and timestamp window (401 with a short JSON error; nothing stored);
4. the deliveries committed to the inbox in one transaction (a redelivery is a no-op: unique key);
5. the reply the sender expects (2xx; a duplicate gets the same reply, so the sender stops retrying).

Processing is a separate worker that claims inbox items, so the reply never waits for it: a sender's
timeout (HubSpot 5 s, Feishu 1-3 s) only has to cover one small insert. If the inbox cannot be written
the answer is 503 and the sender retries later; nothing is acknowledged that is not stored.

Logs carry ids and sizes, never a body or a secret (``hub.observability.redact`` is the backstop).
"""

from __future__ import annotations

import ipaddress
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio
from fastapi import FastAPI
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from hub.errors import ConfigError
from hub.observability import Metrics, bound_ids, get_logger
from hub.settings import Settings, WebhookSettings
from hub.webhooks.inbox import InboxPort
from hub.webhooks.request import Accepted, Handshake, IncomingRequest, Rejected, Verifier
from hub.webhooks.verify import build_verifier

READY_TIMEOUT_SECONDS = 2.0
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_log = get_logger("huitong.webhooks")

OnStored = Callable[[str, int], None]


class _TooLarge(Exception):
    pass


@dataclass(frozen=True)
class _Route:
    system: str
    path: str
    settings: WebhookSettings
    verifier: Verifier
    base_url: str | None
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def create_app(
    settings: Settings,
    inbox: InboxPort,
    *,
    clock: Callable[[], float] = time.time,
    metrics: Metrics | None = None,
    on_stored: OnStored | None = None,
) -> FastAPI:
    """The receiver for every system with a ``webhook`` section.

    ``clock`` gives epoch seconds (timestamp windows); ``on_stored(system, new_count)`` is called
    after a commit that stored something, e.g. to wake a worker in the same process: it must not block.
    """
    metrics = metrics or Metrics()
    metrics.watch_queue("inbox", inbox.counts)
    app = FastAPI(title="Huitong webhooks", docs_url=None, redoc_url=None, openapi_url=None)
    for route in _routes(settings):
        handler = _Handler(route, inbox, clock, metrics, on_stored)
        app.add_route(route.path, handler.handle, methods=list(route.verifier.methods))
    _add_probes(app, inbox, metrics)
    app.state.metrics = metrics
    return app


def _routes(settings: Settings) -> list[_Route]:
    routes: dict[str, _Route] = {}
    for system, system_settings in settings.systems.items():
        hook = system_settings.webhook
        if hook is None:
            continue
        path = hook.path or f"/webhooks/{system}"
        if path in routes:
            raise ConfigError(
                f"systems {routes[path].system} and {system} share the webhook path {path}"
            )
        try:
            verifier = build_verifier(system, hook)
        except ValueError as exc:
            raise ConfigError(f"systems.{system}.webhook: {exc}") from None
        networks = tuple(ipaddress.ip_network(n, strict=False) for n in hook.allowed_networks)
        base_url = hook.public_base_url or settings.server.public_base_url
        routes[path] = _Route(system, path, hook, verifier, base_url, networks)
    return list(routes.values())


class _Handler:
    def __init__(
        self,
        route: _Route,
        inbox: InboxPort,
        clock: Callable[[], float],
        metrics: Metrics,
        on_stored: OnStored | None,
    ) -> None:
        self.route = route
        self.inbox = inbox
        self.clock = clock
        self.metrics = metrics
        self.on_stored = on_stored

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        system = self.route.system
        given = request.headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        with bound_ids(request_id=request_id, system=system):
            if not self._address_allowed(request):
                return self._refuse(Rejected(403, "address not allowed"), 0)
            try:
                body = await self._read_body(request)
            except _TooLarge:
                return self._too_large()
            except ClientDisconnect:  # the sender gave up mid-body: nothing to verify or store
                self.metrics.webhook_requests.labels(system, "client_gone").inc()
                _log.warning("webhook.client_gone")
                return Response(status_code=400)
            incoming = IncomingRequest(
                system=system,
                method=request.method,
                url=self._signed_url(request),
                query=dict(request.query_params),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
                client_host=request.client.host if request.client else None,
                now=self.clock(),
            )
            verdict = self.route.verifier.verify(incoming)
            if isinstance(verdict, Rejected):
                return self._refuse(verdict, len(body))
            if isinstance(verdict, Handshake):
                self.metrics.webhook_requests.labels(system, "handshake").inc()
                _log.info("webhook.handshake", what=verdict.what, bytes=len(body))
                return _response(verdict.reply.status, verdict.reply.body, verdict.reply.media_type)
            return await self._store(verdict, len(body), started)

    async def _store(self, verdict: Accepted, size: int, started: float) -> Response:
        system = self.route.system
        try:
            new = await anyio.to_thread.run_sync(self.inbox.add_many, verdict.deliveries)
        except Exception as exc:  # the sender must retry: nothing unstored is acknowledged
            self.metrics.webhook_requests.labels(system, "error").inc()
            _log.error("webhook.inbox_failed", error=type(exc).__name__, bytes=size)
            return JSONResponse({"error": "inbox unavailable, retry later"}, status_code=503)
        elapsed = time.perf_counter() - started
        self.metrics.webhook_latency.labels(system).observe(elapsed)
        stored = sum(new)
        self.metrics.webhook_requests.labels(system, "stored" if stored else "duplicate").inc()
        _log.info(
            "webhook.stored",
            scheme=self.route.verifier.scheme,
            bytes=size,
            deliveries=len(new),
            new=stored,
            keys=_first_keys([d.key for d in verdict.deliveries]),
            ms=round(elapsed * 1000, 2),
        )
        if stored and self.on_stored is not None:
            self.on_stored(system, stored)
        reply = verdict.reply
        return _response(reply.status, reply.body, reply.media_type)

    def _refuse(self, verdict: Rejected, size: int) -> Response:
        self.metrics.webhook_requests.labels(self.route.system, "rejected").inc()
        _log.warning("webhook.rejected", status=verdict.status, reason=verdict.error, bytes=size)
        return JSONResponse({"error": verdict.error}, status_code=verdict.status)

    def _too_large(self) -> Response:
        limit = self.route.settings.max_body_bytes
        self.metrics.webhook_requests.labels(self.route.system, "too_large").inc()
        _log.warning("webhook.too_large", limit=limit)
        # Closing the connection: the rest of the body is never read.
        return JSONResponse(
            {"error": f"body larger than {limit} bytes"},
            status_code=413,
            headers={"connection": "close"},
        )

    async def _read_body(self, request: Request) -> bytes:
        limit = self.route.settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _TooLarge
        buffer = bytearray()
        async for chunk in request.stream():
            buffer += chunk
            if len(buffer) > limit:
                raise _TooLarge
        return bytes(buffer)

    def _address_allowed(self, request: Request) -> bool:
        if not self.route.networks:
            return True
        try:
            address = ipaddress.ip_address(request.client.host if request.client else "")
        except ValueError:
            return False
        return any(address in network for network in self.route.networks)

    def _signed_url(self, request: Request) -> str:
        """The URL as the sender called it: the path as received (escapes kept), the query."""
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        path = raw_path.decode("latin-1")
        query = request.scope.get("query_string", b"").decode("latin-1")
        base = self.route.base_url
        if base is None:
            host = request.headers.get("host") or request.url.netloc
            base = f"{request.url.scheme}://{host}"
        return base + path + (f"?{query}" if query else "")


def _response(status: int, body: bytes, media_type: str) -> Response:
    return Response(content=body, status_code=status, media_type=media_type)


def _first_keys(keys: Sequence[str], limit: int = 10) -> list[str]:
    return list(keys[:limit]) + ([f"...(+{len(keys) - limit})"] if len(keys) > limit else [])


def _add_probes(app: FastAPI, inbox: InboxPort, metrics: Metrics) -> None:
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        try:
            with anyio.fail_after(READY_TIMEOUT_SECONDS):
                ok, detail = await anyio.to_thread.run_sync(inbox.ready, abandon_on_cancel=True)
        except TimeoutError:
            ok, detail = False, f"database did not answer within {READY_TIMEOUT_SECONDS:g} s"
        except Exception as exc:
            ok, detail = False, f"readiness check failed ({type(exc).__name__})"
        body = {"status": "ready" if ok else "not ready", "detail": detail}
        return JSONResponse(body, status_code=200 if ok else 503)

    async def metrics_endpoint(_request: Request) -> Response:
        body, content_type = await anyio.to_thread.run_sync(metrics.render)
        return Response(content=body, media_type=content_type)

    app.add_route("/healthz", healthz, methods=["GET"])
    app.add_route("/readyz", readyz, methods=["GET"])
    app.add_route("/metrics", metrics_endpoint, methods=["GET"])


def serve(app: FastAPI, host: str, port: int) -> None:
    """Run the receiver with uvicorn in the foreground (``huitong serve``), logging through the
    hub's JSON logging (``configure_logging`` first). Forwarded headers are trusted from the
    addresses in ``FORWARDED_ALLOW_IPS`` (uvicorn's default: 127.0.0.1)."""
    import uvicorn

    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_keep_alive=30,
    )
