"""The HTTP face of the emulated org: routing, authentication, the daily limit header, JSON.

Paths and answers follow apis.md §0.1's captured table of what simple-salesforce 1.12 sends and
expects, and §1.x for the resources. Routing works on the raw path so that an external id containing
``%2F`` stays one segment; ``+`` in an external id segment is a space (apis.md §0.1 [V]).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, unquote_plus

from starlette.requests import Request
from starlette.responses import Response

from connectors.emulation import Receive, Scope, Send
from connectors.salesforce import auth, collections, errors
from connectors.salesforce.errors import ApiError
from connectors.salesforce.ids import key_prefix, normalize_id
from connectors.salesforce.org import Org, RequestLogEntry
from connectors.salesforce.schema import OBJECTS, ObjectDef, find_object
from connectors.salesforce.values import attributes, json_value

JSON_TYPE = "application/json;charset=UTF-8"
# Versions the emulator answers; simple-salesforce 1.12 defaults to 59.0 (apis.md §0.1 [V]).
MIN_VERSION, MAX_VERSION = 31.0, 62.0
_VERSION_PATH = re.compile(r"^/services/data/v(\d{2,3}\.\d)(/.*)?$")
_SOAP_PATH = re.compile(r"^/services/Soap/u/(\d{2,3}\.\d)/?$")
_BATCH_SIZE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


@dataclass
class Call:
    """One authenticated REST request, after routing."""

    request: Request
    method: str
    segments: list[str]  # still percent-encoded
    version: str
    user_id: str

    @property
    def number(self) -> float:
        return float(self.version)

    def arg(self, name: str) -> str | None:
        return self.request.query_params.get(name)

    async def json(self) -> Any:
        raw = await self.request.body()
        if not raw.strip():
            raise errors.json_parser_error("No content to map due to end-of-input")
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.json_parser_error(f"Unexpected character: {exc}") from None


def _json(body: Any, status: int = 200, pretty: bool = False, **headers: str) -> Response:
    text = json.dumps(body, indent=2 if pretty else None, ensure_ascii=False)
    return Response(text.encode(), status, headers=headers or None, media_type=JSON_TYPE)


def _error(exc: ApiError) -> Response:
    return _json(exc.rest_body(), exc.status)


def _no_content() -> Response:
    return Response(status_code=204)


class SalesforceApp:
    """ASGI application over one ``Org``."""

    def __init__(self, org: Org) -> None:
        self.org = org

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        raw_path = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("latin-1").split("?", 1)[0]
        try:
            response = await self.dispatch(request, path)
        except ApiError as exc:
            response = _error(exc)
        with self.org.lock:
            self.org.request_log.append(RequestLogEntry(request.method, path, response.status_code))
        await response(scope, receive, send)

    async def dispatch(self, request: Request, path: str) -> Response:
        method = request.method
        if path == "/services/oauth2/token":
            if method != "POST":
                raise errors.method_not_allowed(method, "POST")
            form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
            status, body = auth.token_endpoint(
                self.org,
                form,
                request.headers.get("authorization"),
                request.headers.get("host", ""),
            )
            return _json(body, status)
        soap = _SOAP_PATH.match(path)
        if soap:
            status, xml = auth.soap_login(self.org, await request.body(), soap.group(1))
            return Response(xml.encode(), status, media_type="text/xml;charset=UTF-8")
        if path.rstrip("/") == "/services/data":
            return _json(_versions())  # the one data path with no limit header (apis.md §1.6)
        match = _VERSION_PATH.match(path)
        if not match or not MIN_VERSION <= float(match.group(1)) <= MAX_VERSION:
            raise errors.not_found()
        return await self.data(request, match.group(1), match.group(2) or "")

    async def data(self, request: Request, version: str, rest: str) -> Response:
        user_id = self.authenticate(request)
        if not self.org.consume_api_call():
            response = _error(errors.daily_limit_exceeded())
        else:
            segments = [s for s in rest.split("/") if s]
            call = Call(request, request.method, segments, version, user_id)
            try:
                response = await self.route(call)
            except ApiError as exc:
                response = _error(exc)
        response.headers["Sforce-Limit-Info"] = self.org.limit_info()
        return response

    def authenticate(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not token.strip():
            raise errors.invalid_auth_header()
        session = self.org.session(token.strip())
        if session is None:
            raise errors.invalid_session()
        return session.user_id

    async def route(self, call: Call) -> Response:
        segs = call.segments
        head = segs[0] if segs else ""
        handler: Callable[[Call], Awaitable[Response]] | None = None
        allowed = "GET"
        if not segs:
            handler = self.resources
        elif head == "limits" and len(segs) == 1:
            handler = self.limits
        elif head == "sobjects":
            handler, allowed = self.sobjects_route(call)
        elif head in ("query", "queryAll") and len(segs) <= 2:
            handler = self.query
        elif head == "composite" and len(segs) >= 2 and segs[1] == "sobjects":
            handler, allowed = self.collections_route(call)
        if handler is None:
            raise errors.not_found()
        if call.method not in allowed.split(","):
            raise errors.method_not_allowed(call.method, allowed)
        return await handler(call)

    def sobjects_route(
        self, call: Call
    ) -> tuple[Callable[[Call], Awaitable[Response]] | None, str]:
        n = len(call.segments)
        if n == 1:
            return self.describe_global, "GET"
        if call.method == "POST" and n == 3 and call.segments[2].lower() == "id":
            return self.create, "POST"  # POST /sobjects/{Obj}/Id creates (API >= 37) [D]
        third = call.segments[2].lower() if n >= 3 else ""
        if n == 2:
            return (self.create if call.method == "POST" else self.metadata), "GET,POST"
        if n == 3 and third == "describe":
            return self.describe, "GET"
        if n == 3 and third in ("updated", "deleted"):
            return self.replication, "GET"
        if n == 3:
            return self.record, "GET,PATCH,DELETE"
        if n == 4:
            return self.by_external_id, "GET,PATCH,DELETE"
        return None, "GET"

    def collections_route(
        self, call: Call
    ) -> tuple[Callable[[Call], Awaitable[Response]] | None, str]:
        if call.number < 42:  # sObject Collections need API 42.0 (apis.md §1.4 [D])
            return None, "GET"
        n = len(call.segments)
        if n == 2:
            return self.collections, "POST,PATCH,DELETE"
        if n == 3:
            return self.collections_retrieve, "GET"
        if n == 4 and call.number >= 46:  # upsert by external id needs 46.0 [D]
            return self.collections_upsert, "PATCH"
        return None, "GET"

    # --- resources -----------------------------------------------------------------------------

    async def resources(self, call: Call) -> Response:
        base = f"/services/data/v{call.version}"
        names = ("sobjects", "query", "queryAll", "limits", "composite")
        return self.ok(call, {name: f"{base}/{name}" for name in names})

    async def limits(self, call: Call) -> Response:
        return self.ok(call, self.org.limits())

    async def describe_global(self, call: Call) -> Response:
        body = {
            "encoding": "UTF-8",
            "maxBatchSize": 200,
            "sobjects": [o.global_entry(call.version) for o in OBJECTS.values()],
        }
        return self.ok(call, body)

    def ok(self, call: Call, body: Any, status: int = 200, **headers: str) -> Response:
        pretty = call.request.headers.get("x-prettyprint") == "1"
        return _json(body, status, pretty, **headers)

    def sobject(self, call: Call) -> ObjectDef:
        obj = find_object(unquote(call.segments[1]))
        if obj is None:
            raise errors.not_found()  # an unknown sObject in a REST path is a 404 [V]
        return obj

    async def metadata(self, call: Call) -> Response:
        obj = self.sobject(call)
        return self.ok(call, {"objectDescribe": obj.global_entry(call.version), "recentItems": []})

    async def describe(self, call: Call) -> Response:
        return self.ok(call, self.sobject(call).describe(call.version))

    async def create(self, call: Call) -> Response:
        obj = self.sobject(call)
        body = await call.json()
        if not isinstance(body, dict):
            raise errors.json_parser_error(
                "Cannot deserialize instance of an sObject from an array"
            )
        with self.org.lock:
            record_id = self.org.writer.create(obj, body, self.org.context(call.user_id))
        location = f"/services/data/v{call.version}/sobjects/{obj.name}/{record_id}"
        result = {"id": record_id, "success": True, "errors": []}
        return self.ok(call, result, 201, Location=location)

    async def record(self, call: Call) -> Response:
        obj = self.sobject(call)
        raw_id = unquote(call.segments[2])
        record_id = normalize_id(raw_id)
        if record_id is None:
            # A segment that is not an id is read as an external-id field name [V].
            raise errors.external_id_field_not_found(raw_id)
        if call.method == "GET":
            if key_prefix(record_id) != obj.key_prefix:
                raise errors.not_found()
            return self.ok(call, self.read(obj, record_id, call))
        if call.method == "DELETE":
            with self.org.lock:
                self.org.writer.delete(obj, raw_id, self.org.context(call.user_id))
            return _no_content()
        body = await call.json()
        if not isinstance(body, dict):
            raise errors.json_parser_error("Cannot deserialize instance of an sObject")
        with self.org.lock:
            self.org.writer.update(obj, raw_id, body, self.org.context(call.user_id))
        return _no_content()

    def read(self, obj: ObjectDef, record_id: str, call: Call) -> dict[str, Any]:
        wanted = [f for f in (call.arg("fields") or "").split(",") if f]
        defs = obj.fields
        if wanted:
            resolved = []
            for name in wanted:
                field = obj.get_field(name)
                if field is None:
                    raise errors.no_such_column(name, obj)
                resolved.append(field)
            defs = tuple(resolved)
        with self.org.lock:
            row = self.org.store.live(obj.name, record_id)
            if row is None:
                raise errors.not_found()
            body: dict[str, Any] = {"attributes": attributes(obj.name, record_id, call.version)}
            body.update({f.name: json_value(f, row.get(f.name)) for f in defs})
            return body

    async def by_external_id(self, call: Call) -> Response:
        obj = self.sobject(call)
        field = obj.get_field(unquote(call.segments[2]))
        if field is None:
            raise errors.external_id_field_not_found(unquote(call.segments[2]))
        if not field.external_id and field.type != "id":
            raise errors.not_an_external_id(field.name, obj)
        value = unquote_plus(call.segments[3])
        if call.method == "PATCH":
            body = await call.json()
            if not isinstance(body, dict):
                raise errors.json_parser_error("Cannot deserialize instance of an sObject")
            with self.org.lock:
                return self.upsert(call, obj, field.name, value, body)
        with self.org.lock:
            matches = self.org.writer.find_by_external_id(obj, field, value)
            if len(matches) > 1:
                return self.multiple_choices(call, obj, matches)
            if not matches:
                raise errors.not_found()
            if call.method == "DELETE":
                self.org.writer.delete(obj, matches[0], self.org.context(call.user_id))
                return _no_content()
        return self.ok(call, self.read(obj, matches[0], call))

    def upsert(
        self, call: Call, obj: ObjectDef, field_name: str, value: str, body: dict[str, Any]
    ) -> Response:
        field = obj.get_field(field_name)
        assert field is not None
        in_body = next((v for k, v in body.items() if k.lower() == field.name.lower()), None)
        if in_body is not None and str(in_body) != value:
            raise ApiError(  # [K] wording; the value in the URL is the one that is matched
                400,
                "INVALID_FIELD",
                f"{field.name}: the value in the request body does not match the URL",
                [field.name],
            )
        body = {k: v for k, v in body.items() if k.lower() != field.name.lower()}
        update_only = (call.arg("updateOnly") or "").lower() == "true"
        try:
            record_id, created = self.org.writer.upsert(
                obj, field, value, body, self.org.context(call.user_id), update_only=update_only
            )
        except ApiError as exc:
            if exc.status == 300:
                ids = self.org.writer.find_by_external_id(obj, field, value)
                return self.multiple_choices(call, obj, ids)
            raise
        modern = call.number >= 46
        result: dict[str, Any] = {"id": record_id, "success": True, "errors": []}
        if created:
            # 201 with the SaveResult; "created" is reported from API 46.0 (apis.md §1.3 [D][K]).
            if modern:
                result["created"] = True
            return self.ok(call, result, 201)
        if modern:  # an update answers 200 with created:false from 46.0, 204 before [D]
            return self.ok(call, {**result, "created": False}, 200)
        return _no_content()

    def multiple_choices(self, call: Call, obj: ObjectDef, ids: list[str]) -> Response:
        # 300 with the matching records' URLs (apis.md §1.3 [D]): SalesforceMoreThanOneRecord.
        urls = [attributes(obj.name, rid, call.version)["url"] for rid in ids]
        return self.ok(call, urls, 300)

    async def replication(self, call: Call) -> Response:
        obj = self.sobject(call)
        start, end = call.arg("start"), call.arg("end")
        if start is None or end is None:
            raise errors.invalid_replication_date("start and end are required")
        if call.segments[2].lower() == "updated":
            return self.ok(call, self.org.get_updated(obj.name, start, end))
        return self.ok(call, self.org.get_deleted(obj.name, start, end))

    async def query(self, call: Call) -> Response:
        include_deleted = call.segments[0] == "queryAll"
        options = call.request.headers.get("sforce-query-options", "")
        batch = _BATCH_SIZE.search(options)
        batch_size = int(batch.group(1)) if batch else None
        if len(call.segments) == 2:
            body = self.org.query_more(
                unquote(call.segments[1]),
                batch_size=batch_size,
                user_id=call.user_id,
                version=call.version,
            )
            return self.ok(call, body)
        text = call.arg("q")
        if not text:
            raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")  # [K]
        body = self.org.query(
            text,
            include_deleted=include_deleted,
            batch_size=batch_size,
            user_id=call.user_id,
            version=call.version,
        )
        return self.ok(call, body)

    async def collections(self, call: Call) -> Response:
        if call.method == "DELETE":
            results = collections.delete(
                self.org, call.arg("ids"), call.arg("allOrNone"), call.user_id
            )
            return self.ok(call, results)
        body = await call.json()
        if call.method == "POST":
            return self.ok(call, collections.create(self.org, body, call.user_id))
        return self.ok(call, collections.update(self.org, body, call.user_id))

    async def collections_retrieve(self, call: Call) -> Response:
        results = collections.retrieve(
            self.org, unquote(call.segments[2]), call.arg("ids"), call.arg("fields"), call.version
        )
        return self.ok(call, results)

    async def collections_upsert(self, call: Call) -> Response:
        body = await call.json()
        results = collections.upsert(
            self.org, unquote(call.segments[2]), unquote(call.segments[3]), body, call.user_id
        )
        return self.ok(call, results)


def _versions() -> list[dict[str, str]]:
    labels = {
        "58.0": "Summer '23",
        "59.0": "Winter '24",
        "60.0": "Spring '24",
        "61.0": "Summer '24",
    }
    return [
        {"label": label, "url": f"/services/data/v{v}", "version": v} for v, label in labels.items()
    ]
