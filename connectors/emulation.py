"""Shared machinery for the API emulators: serve an ASGI app on loopback, and inject faults.

Every emulator is a real HTTP server on 127.0.0.1 so the real client libraries go over a real socket.
``FaultPlan`` makes the failures real services produce (429 with rate-limit headers, 5xx, slow answers
that trip the client's timeout, connections dropped mid-response) either at a rate or by script.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FaultKind = Literal["429", "500", "502", "503", "timeout", "drop"]


@dataclass
class FaultPlan:
    """Which requests fail, and how.

    ``script`` is consumed first, one entry per request (``None`` lets that request through);
    then each request fails with probability ``rate``, the kind drawn from ``kinds``.
    ``rate_limit_body`` builds the emulator-specific 429 body and headers, so each API answers a 429
    in its own words.
    """

    rate: float = 0.0
    kinds: tuple[FaultKind, ...] = ("429", "500", "503", "timeout", "drop")
    script: deque[FaultKind | None] = field(default_factory=deque)
    timeout_seconds: float = 2.0
    seed: int | None = None
    path_prefix: str = ""
    injected: int = 0
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def reseed(self, seed: int) -> None:
        """Draw the random faults from ``seed`` from now on: a failing run fails the same way."""
        self.seed = seed
        self._random = random.Random(seed)

    def next_fault(self, path: str) -> FaultKind | None:
        if self.path_prefix and not path.startswith(self.path_prefix):
            return None
        if self.script:
            fault = self.script.popleft()
        elif self.rate and self._random.random() < self.rate:
            fault = self._random.choice(self.kinds)
        else:
            fault = None
        if fault is not None:
            self.injected += 1
        return fault


RateLimitAnswer = Callable[[], tuple[int, dict[str, str], bytes]]
ServerErrorAnswer = Callable[[int], tuple[dict[str, str], bytes]]


class FaultInjector:
    """ASGI middleware that applies a ``FaultPlan`` in front of an emulator app."""

    def __init__(
        self,
        app: ASGIApp,
        plan: FaultPlan,
        rate_limited: RateLimitAnswer,
        server_error: ServerErrorAnswer,
    ) -> None:
        self.app = app
        self.plan = plan
        self.rate_limited = rate_limited
        self.server_error = server_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fault = self.plan.next_fault(scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault == "429":
            status, headers, body = self.rate_limited()
            await _respond(send, status, headers, body)
        elif fault in ("500", "502", "503"):
            headers, body = self.server_error(int(fault))
            await _respond(send, int(fault), headers, body)
        elif fault == "timeout":
            # The request is dropped unprocessed: the client's timeout fires before anything returns.
            await asyncio.sleep(self.plan.timeout_seconds)
            await _respond(send, 504, {"content-type": "text/plain"}, b"gateway timeout")
        else:  # drop: promise a body and close the connection before sending it
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-length", b"1000"),
                        (b"content-type", b"application/json"),
                    ],
                }
            )
            raise ConnectionAbortedError("fault injection: connection dropped")


async def _respond(send: Send, status: int, headers: dict[str, str], body: bytes) -> None:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LoopbackServer:
    """Runs an ASGI app with uvicorn on 127.0.0.1 in a background thread (optionally over TLS)."""

    def __init__(
        self,
        app: ASGIApp,
        port: int | None = None,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
    ) -> None:
        self.port = port or free_port()
        self.scheme = "https" if ssl_certfile else "http"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            ssl_cert_reqs=ssl.CERT_NONE,
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, name=f"emulator:{self.port}", daemon=True
        )

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"emulator on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        # Idle keep-alive connections (TLS ones above all) would hold a graceful shutdown for
        # seconds: an emulator has nothing to drain, so it exits at once.
        self._server.should_exit = True
        self._server.force_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def serve(app: ASGIApp, **kwargs: Any) -> Iterator[LoopbackServer]:
    server = LoopbackServer(app, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()
