"""Fixtures: a served HubSpot emulator whose every response is checked against the official OpenAPI.

``make_emulator``/``emulator`` wrap the emulator's ASGI app in a ``Recorder``; when the test ends,
each recorded request/response pair is validated (``validate_exchange``) and any failure fails the
test in teardown. So every emulator response of the whole test run is validated, under xdist too.
The ``spec_check`` fixture hands the same machinery to tests that check the checker.

Each recorded request/response pair is validated with openapi-core against the matching file in
``shared/specs/hubspot`` (HubSpot/HubSpot-public-api-spec-collection). A response that does not
validate, or a 2xx status the operation does not declare (the client would silently return None,
apis.md §0.2), is an error.

Two mechanical adaptations of the spec files for openapi-core, neither relaxing a schema:
* the shared ``Error`` response is declared for ``*/*``; openapi-core does not parse JSON under a
  wildcard media type, so it is re-keyed ``application/json`` (HubSpot answers errors in JSON);
* 204 responses declare ``content: {}``; openapi-core then demands a body, so the empty map is
  dropped (204 bodies are separately required to be empty).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from connectors.emulation import ASGIApp, Message, Receive, Scope, Send
from connectors.hubspot.emulator import HubSpotEmulator

SPEC_DIR = Path(__file__).resolve().parents[4] / "shared" / "specs" / "hubspot"
if not SPEC_DIR.is_dir():  # the checkout may sit elsewhere; /work/shared is the shared location
    SPEC_DIR = Path("/work/shared/specs/hubspot")

SPEC_FOR_PREFIX = (
    ("/crm/v3/objects/contacts", "Contacts_contacts.json"),
    ("/crm/v3/objects/companies", "Companies_companies.json"),
    ("/crm/v3/objects/", "Objects_objects.json"),
    ("/crm/v3/properties/", "Properties_properties.json"),
    ("/crm/v4/", "Associations_associations.json"),
)


@dataclass
class Exchange:
    method: str
    path: str
    query: str
    request_body: bytes
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    complete: bool = False


class Recorder:
    """ASGI middleware keeping every request/response pair that completed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.exchanges: list[Exchange] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        exchange = Exchange(
            scope["method"], scope["path"], scope["query_string"].decode(), request_body=b""
        )

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                exchange.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
            elif message["type"] == "http.response.body":
                exchange.body += message.get("body", b"")
                if not message.get("more_body", False):
                    exchange.complete = True
                    exchange.request_body = b"".join(chunks)
                    self.exchanges.append(exchange)
            await send(message)

        await self.app(scope, recording_receive, recording_send)


def _normalise(spec: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    error = spec.get("components", {}).get("responses", {}).get("Error", {})
    if "*/*" in error.get("content", {}):
        error["content"]["application/json"] = error["content"].pop("*/*")
    for operations in spec["paths"].values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                if response.get("content") == {}:
                    del response["content"]
    return spec


@cache
def load_spec(filename: str) -> tuple[OpenAPI, dict[str, Any]]:
    raw = json.loads((SPEC_DIR / filename).read_text())
    spec = _normalise(raw)
    return OpenAPI.from_dict(spec), spec


def spec_file_for(path: str) -> str:
    for prefix, filename in SPEC_FOR_PREFIX:
        if path.startswith(prefix):
            return filename
    raise AssertionError(f"no official spec covers {path}")


def operation_for(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """The spec operation whose path template matches (literal segments preferred)."""
    candidates = []
    for template, operations in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            candidates.append((template.count("{"), operations[method.lower()]))
    if not candidates:
        raise AssertionError(f"{method} {path} is not an operation of the official spec")
    return min(candidates, key=lambda c: c[0])[1]


def is_timeout_artefact(exchange: Exchange) -> bool:
    """The shared FaultInjector's "timeout" fault ends, after the client gave up, with a plain-text
    504 of its own: not an emulated HubSpot answer, so not held to HubSpot's spec."""
    return exchange.status == 504 and exchange.headers.get("content-type") == "text/plain"


def validate_exchange(exchange: Exchange) -> None:
    """Raise if the response does not conform to the official spec operation."""
    api, spec = load_spec(spec_file_for(exchange.path))
    operation = operation_for(spec, exchange.method, exchange.path)
    declared = operation.get("responses", {})
    where = f"{exchange.method} {exchange.path} -> {exchange.status}"
    if 200 <= exchange.status < 300 and str(exchange.status) not in declared:
        raise AssertionError(f"{where}: status not declared by the spec ({sorted(declared)})")
    if exchange.status == 204 and exchange.body:
        raise AssertionError(f"{where}: a 204 must have no body")
    request = MockRequest(
        "https://api.hubapi.com",
        exchange.method.lower(),
        exchange.path,
        args=dict(re.findall(r"([^&=]+)=([^&]*)", exchange.query)),
        data=exchange.request_body,
        content_type="application/json",
    )
    response = MockResponse(
        exchange.body,
        status_code=exchange.status,
        content_type=exchange.headers.get("content-type", "application/json"),
        headers=exchange.headers,
    )
    try:
        api.validate_response(request, response)
    except Exception as exc:
        raise AssertionError(f"{where}: {exc}\nbody: {exchange.body[:600]!r}") from exc


@pytest.fixture
def recorder_box() -> list[Recorder]:
    return []


@pytest.fixture
def make_emulator(recorder_box: list[Recorder]) -> Iterator[Any]:
    """Factory: ``make_emulator(**HubSpotEmulator kwargs)`` → a serving emulator (recorded)."""
    stack: list[Any] = []

    def factory(**kwargs: Any) -> HubSpotEmulator:
        emulator = HubSpotEmulator(**kwargs)

        def wrap(app: ASGIApp) -> ASGIApp:
            recorder = Recorder(app)
            recorder_box.append(recorder)
            return recorder

        context = emulator.serve(wrap=wrap)
        context.__enter__()
        stack.append((emulator, context))
        return emulator

    yield factory
    for emulator, context in reversed(stack):
        context.__exit__(None, None, None)
        assert not emulator.internal_errors, f"emulator bugs: {emulator.internal_errors!r}"
    failures = []
    for recorder in recorder_box:
        for exchange in recorder.exchanges:
            if is_timeout_artefact(exchange):
                continue
            try:
                validate_exchange(exchange)
            except AssertionError as error:
                failures.append(str(error))
    assert not failures, "responses that break the official spec:\n" + "\n".join(failures)


@pytest.fixture
def emulator(make_emulator: Any) -> HubSpotEmulator:
    return make_emulator()


@pytest.fixture
def client(emulator: HubSpotEmulator) -> Any:
    return emulator.client()


@pytest.fixture
def spec_check() -> SimpleNamespace:
    return SimpleNamespace(
        Exchange=Exchange,
        load_spec=load_spec,
        operation_for=operation_for,
        spec_file_for=spec_file_for,
        validate_exchange=validate_exchange,
    )
