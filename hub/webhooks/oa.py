"""DingTalk, WeCom and Feishu event callbacks (apis.md §3.1-3.3; crypto in ``oa_crypto``).

Each platform authenticates a push with its own signature, then seals the event; what is stored is
the decrypted event, so the worker reads it without any key. The URL-verification exchanges
(DingTalk ``check_url``, WeCom's GET with ``echostr``, Feishu ``url_verification``) are answered and
not stored.

A Feishu event carries the app's verification token, which is blanked before storing (it would let a
reader of the database forge unencrypted pushes). Delivery keys: Feishu ``header.event_id`` (schema 2.0) or ``uuid`` (1.0), the ids Feishu tells
receivers to de-duplicate by; WeCom ``MsgId`` when the message has one; otherwise a hash of the
decrypted event, which a redelivery repeats (the platforms re-seal the same event with a new nonce).
"""

from __future__ import annotations

import hmac
import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from hub.webhooks.inbox import Delivery, hashed_key
from hub.webhooks.oa_crypto import (
    CryptoError,
    MsgCrypt,
    feishu_decrypt,
    feishu_signature,
    random_nonce,
)
from hub.webhooks.request import (
    Accepted,
    Handshake,
    IncomingRequest,
    Rejected,
    Reply,
    Verdict,
    is_fresh,
    json_reply,
    kept_headers,
    parse_epoch,
)

_MSG_ID = re.compile(r"<MsgId>\s*(?:<!\[CDATA\[)?\s*([0-9A-Za-z_-]{1,64})")


def _xml_field(body: bytes, tag: str) -> str | None:
    text = body.decode("utf-8", "replace")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:  # callbacks never carry a DTD: refuse them
        return None
    try:
        root = ET.fromstring(text)  # noqa: S314 - no DTD possible (checked above)
    except ET.ParseError:
        return None
    return root.findtext(tag)


class _SealedCallback:
    """What DingTalk and WeCom share: query-string signature over the sealed event, freshness."""

    scheme = ""

    def __init__(self, system: str, crypt: MsgCrypt, tolerance_seconds: float) -> None:
        self._system = system
        self._crypt = crypt
        self._tolerance = tolerance_seconds

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._system})"

    def _open(
        self, request: IncomingRequest, signature: str, stamp: str, nonce: str, sealed: str
    ) -> bytes | Rejected:
        if not (signature and stamp and nonce and sealed):
            return Rejected(401, "missing msg_signature, timestamp, nonce or the encrypted event")
        sent_at = parse_epoch(stamp)
        if sent_at is None or not is_fresh(sent_at, request.now, self._tolerance):
            return Rejected(401, "stale timestamp")
        if not self._crypt.signature_matches(signature, stamp, nonce, sealed):
            return Rejected(401, "invalid signature")
        try:
            message, receive_id = self._crypt.decrypt(sealed)
        except CryptoError:
            return Rejected(401, "cannot decrypt the event (check aes_key)")
        if not hmac.compare_digest(receive_id.encode(), self._crypt.receive_id.encode()):
            return Rejected(401, "event sealed for another receiver")
        return message


class DingTalk(_SealedCallback):
    """``POST ?msg_signature=&timestamp=&nonce=`` (older: ``signature``/``timeStamp``) with body
    ``{"encrypt": ...}``; the reply must be a freshly sealed ``"success"`` or DingTalk retries."""

    scheme = "dingtalk"
    methods: tuple[str, ...] = ("POST",)

    def verify(self, request: IncomingRequest) -> Verdict:
        q = request.query
        try:
            body = json.loads(request.body)
        except ValueError:
            body = None
        sealed = body.get("encrypt") if isinstance(body, dict) else None
        if not isinstance(sealed, str):
            return Rejected(400, 'body is not {"encrypt": "..."}')
        opened = self._open(
            request,
            q.get("msg_signature") or q.get("signature") or "",
            q.get("timestamp") or q.get("timeStamp") or "",
            q.get("nonce") or "",
            sealed,
        )
        if isinstance(opened, Rejected):
            return opened
        reply = self._success(request.now)
        try:
            event = json.loads(opened)
        except ValueError:
            event = None
        if isinstance(event, dict) and event.get("EventType") == "check_url":
            return Handshake(reply, "check_url")
        delivery = Delivery(
            self._system,
            self.scheme,
            hashed_key("dingtalk", [opened]),
            opened,
            "application/json",
            kept_headers(request.headers),
        )
        return Accepted([delivery], reply)

    def _success(self, now: float) -> Reply:
        stamp, nonce = str(int(now * 1000)), random_nonce(8)
        sealed = self._crypt.encrypt(b"success")
        return json_reply(
            {
                "msg_signature": self._crypt.signature(stamp, nonce, sealed),
                "timeStamp": stamp,
                "nonce": nonce,
                "encrypt": sealed,
            }
        )


class WeCom(_SealedCallback):
    """``GET ?msg_signature=&timestamp=&nonce=&echostr=`` verifies the URL (reply: the decrypted
    echostr, nothing else); ``POST`` with ``<xml>...<Encrypt>`` delivers an event (reply: empty)."""

    scheme = "wecom"
    methods: tuple[str, ...] = ("GET", "POST")

    def verify(self, request: IncomingRequest) -> Verdict:
        q = request.query
        signature, stamp, nonce = (
            q.get("msg_signature", ""),
            q.get("timestamp", ""),
            q.get("nonce", ""),
        )
        if request.method == "GET":
            opened = self._open(request, signature, stamp, nonce, q.get("echostr", ""))
            if isinstance(opened, Rejected):
                return opened
            return Handshake(Reply(200, opened, "text/plain; charset=utf-8"), "verify URL")
        sealed = _xml_field(request.body, "Encrypt")
        if not sealed:
            return Rejected(400, "body is not <xml> with an <Encrypt> element")
        opened = self._open(request, signature, stamp, nonce, sealed.strip())
        if isinstance(opened, Rejected):
            return opened
        msg_id = _MSG_ID.search(opened.decode("utf-8", "replace"))
        key = f"wecom:msg:{msg_id.group(1)}" if msg_id else hashed_key("wecom", [opened])
        delivery = Delivery(
            self._system, self.scheme, key, opened, "application/xml", kept_headers(request.headers)
        )
        return Accepted([delivery], Reply(200, b"", "text/plain; charset=utf-8"))


def _without_token(payload: dict[str, Any], event_bytes: bytes) -> bytes:
    """The event as stored: the verification token it carries (a credential: it is all that
    authenticates an unencrypted push) is blanked; everything else is kept."""
    header = payload.get("header")
    holder = header if isinstance(header, dict) else payload
    if not holder.get("token"):
        return event_bytes
    holder["token"] = ""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Feishu:
    """Event subscription: the body is ``{"encrypt": ...}`` when an Encrypt Key is set (then the
    ``X-Lark-*`` headers sign it), else the plain event whose ``token`` authenticates it.

    As the official SDK does, ``url_verification`` is answered after the token check and without a
    signature (Feishu does not sign it); every other event must be signed when a key is set.
    """

    scheme = "feishu"
    methods: tuple[str, ...] = ("POST",)

    def __init__(
        self,
        system: str,
        encrypt_key: str | None,
        verification_token: str | None,
        tolerance_seconds: float,
    ) -> None:
        self._system = system
        self._key = encrypt_key
        self._token = verification_token
        self._tolerance = tolerance_seconds

    def __repr__(self) -> str:
        return f"Feishu({self._system})"

    def verify(self, request: IncomingRequest) -> Verdict:
        try:
            outer = json.loads(request.body)
        except ValueError:
            return Rejected(400, "body is not JSON")
        if not isinstance(outer, dict):
            return Rejected(400, "body is not a JSON object")
        event = self._open(outer, request.body)
        if isinstance(event, Rejected):
            return event
        event_bytes, payload = event
        if payload.get("type") == "url_verification":
            if not self._token_matches(payload):
                return Rejected(401, "wrong verification token")
            return Handshake(
                json_reply({"challenge": payload.get("challenge", "")}), "url_verification"
            )
        if self._key is not None:
            refused = self._check_signature(request)
            if refused is not None:
                return refused
        if not self._token_matches(payload):
            return Rejected(401, "wrong verification token")
        delivery = Delivery(
            self._system,
            self.scheme,
            self._key_of(payload, event_bytes),
            _without_token(payload, event_bytes),
            "application/json",
            kept_headers(request.headers),
        )
        return Accepted([delivery], json_reply({"msg": "success"}))

    def _open(self, outer: dict[str, Any], body: bytes) -> tuple[bytes, dict[str, Any]] | Rejected:
        sealed = outer.get("encrypt")
        if self._key is None:
            if sealed is not None:
                return Rejected(400, "encrypted event, but no Encrypt Key is configured")
            return body, outer
        if not isinstance(sealed, str):
            return Rejected(401, "expected an encrypted event (an Encrypt Key is configured)")
        try:
            opened = feishu_decrypt(self._key, sealed)
            payload = json.loads(opened)
        except (CryptoError, ValueError):
            return Rejected(401, "cannot decrypt the event (check the Encrypt Key)")
        if not isinstance(payload, dict):
            return Rejected(400, "decrypted event is not a JSON object")
        return opened, payload

    def _check_signature(self, request: IncomingRequest) -> Rejected | None:
        h = request.headers
        stamp, nonce = h.get("x-lark-request-timestamp", ""), h.get("x-lark-request-nonce", "")
        signature = h.get("x-lark-signature", "")
        if not (stamp and nonce and signature):
            return Rejected(401, "missing X-Lark-Request-Timestamp, -Nonce or X-Lark-Signature")
        sent_at = parse_epoch(stamp)
        if sent_at is None or not is_fresh(sent_at, request.now, self._tolerance):
            return Rejected(401, "stale timestamp")
        expected = feishu_signature(stamp, nonce, self._key or "", request.body)
        if not hmac.compare_digest(expected, signature.lower().encode("ascii", "replace").decode()):
            return Rejected(401, "invalid signature")
        return None

    def _token_matches(self, payload: dict[str, Any]) -> bool:
        if self._token is None:
            return True
        header = payload.get("header")
        token = header.get("token") if isinstance(header, dict) else payload.get("token")
        return isinstance(token, str) and hmac.compare_digest(token.encode(), self._token.encode())

    def _key_of(self, payload: dict[str, Any], event_bytes: bytes) -> str:
        header = payload.get("header")
        event_id = header.get("event_id") if isinstance(header, dict) else payload.get("uuid")
        if isinstance(event_id, str) and 0 < len(event_id) <= 128:
            return f"feishu:event:{event_id}"
        return hashed_key("feishu", [event_bytes])
