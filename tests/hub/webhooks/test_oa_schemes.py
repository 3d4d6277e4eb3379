"""DingTalk, WeCom and Feishu callbacks, checked against the platforms' official vectors (apis.md §3)
and end to end through the receiver."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.webhooks.oa_crypto import (
    CryptoError,
    MsgCrypt,
    feishu_decrypt,
    feishu_encrypt,
    feishu_signature,
    sha1_signature,
)
from state.inbox import SqlInbox

# DingTalk official vector (open-dingtalk/DingTalk-Callback-Crypto).
DING = {
    "token": "mryue",
    "aes": "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7",
    "key": "ding6ccabc44d2c8d38b",
}
DING_SIGNATURE, DING_TS, DING_NONCE = (
    "03044561471240d4a14bb09372dfcfd4fd0e40cb",
    "1608001896814",
    "WL4PK6yA",
)
DING_ENCRYPT = (
    "0vJiX6vliEpwG3U45CtXqi+m8PXbQRARJ8p8BbDuD1EMTDf0jKpQ79QS93qEk7XHpP6u+oTTrd15NRPvNvmBKyDCYxxOK+"
    "HZeKju4yhELOFchzNukR+t8SB/qk4ROMu3"
)

# WeCom official vectors (WXBizMsgCrypt samples).
WECOM = {
    "token": "QDG6eK",
    "aes": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
    "corp": "wx5823bf96d3bd56c7",
}
WECOM_ECHO = {
    "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "timestamp": "1409659589",
    "nonce": "263014780",
    "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
}
WECOM_MSG = {
    "msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6",
    "timestamp": "1409659813",
    "nonce": "1372623149",
}
WECOM_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/"
    "sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+"
    "HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJ"
    "B3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fV"
    "Kn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)


def _ding_client(make_client: Any, **more: Any) -> Any:
    return make_client(
        "ding",
        scheme="dingtalk",
        secret=DING["token"],
        aes_key=DING["aes"],
        receive_id=DING["key"],
        **more,
    )


def _wecom_client(make_client: Any) -> Any:
    return make_client(
        "wecom",
        scheme="wecom",
        secret=WECOM["token"],
        aes_key=WECOM["aes"],
        receive_id=WECOM["corp"],
    )


# --- the vectors themselves -------------------------------------------------------------------------


def test_official_vectors_decrypt_and_sign() -> None:
    ding = MsgCrypt(DING["token"], DING["aes"], DING["key"])
    assert ding.signature(DING_TS, DING_NONCE, DING_ENCRYPT) == DING_SIGNATURE
    assert ding.decrypt(DING_ENCRYPT) == (b'{"EventType":"check_url"}', DING["key"])
    wecom = MsgCrypt(WECOM["token"], WECOM["aes"], WECOM["corp"])
    e = WECOM_ECHO
    assert (
        sha1_signature(WECOM["token"], e["timestamp"], e["nonce"], e["echostr"])
        == e["msg_signature"]
    )
    assert wecom.decrypt(e["echostr"]) == (b"1616140317555161061", WECOM["corp"])
    assert (
        wecom.signature(WECOM_MSG["timestamp"], WECOM_MSG["nonce"], WECOM_ENCRYPT)
        == WECOM_MSG["msg_signature"]
    )
    message, corp = wecom.decrypt(WECOM_ENCRYPT)
    assert corp == WECOM["corp"]
    assert b"<Content><![CDATA[hello]]></Content>" in message
    # Feishu official decryption vector, and apis.md's recomputed signature example.
    assert (
        feishu_decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=") == b"hello world"
    )
    body = b'{"encrypt":"P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="}'
    assert (
        feishu_signature("1700000000", "abc", "test key", body)
        == "0c09d96c2aef2ad08179b3967ea410bbc91dab24ce3aec05af962cf1935844af"
    )


def test_sealing_round_trips_and_a_wrong_key_is_detected() -> None:
    ding = MsgCrypt(DING["token"], DING["aes"], DING["key"])
    sealed = ding.encrypt("审批通过".encode(), random_prefix=b"0123456789abcdef")
    assert ding.decrypt(sealed) == ("审批通过".encode(), DING["key"])
    other = MsgCrypt(DING["token"], WECOM["aes"], DING["key"])
    with pytest.raises(CryptoError):
        other.decrypt(sealed)
    iv = bytes(range(16))
    assert feishu_decrypt("k", feishu_encrypt("k", b"{}", iv=iv)) == b"{}"
    with pytest.raises(CryptoError):
        feishu_decrypt("other key", feishu_encrypt("k", b"{}", iv=iv))
    with pytest.raises(CryptoError):
        ding.decrypt("not base64!")


# --- DingTalk through the receiver ------------------------------------------------------------------


@pytest.mark.parametrize("legacy_names", [False, True])
def test_dingtalk_check_url_vector_is_answered_with_sealed_success(
    make_client: Any, sqlite_inbox: SqlInbox, clock: Any, legacy_names: bool
) -> None:
    clock.now = int(DING_TS) / 1000 + 5
    client = _ding_client(make_client)
    names = ("signature", "timeStamp") if legacy_names else ("msg_signature", "timestamp")
    params = {names[0]: DING_SIGNATURE, names[1]: DING_TS, "nonce": DING_NONCE}
    response = client.post("/webhooks/ding", params=params, json={"encrypt": DING_ENCRYPT})
    assert response.status_code == 200
    reply = response.json()
    crypt = MsgCrypt(DING["token"], DING["aes"], DING["key"])
    assert crypt.decrypt(reply["encrypt"]) == (b"success", DING["key"])
    assert reply["msg_signature"] == crypt.signature(
        reply["timeStamp"], reply["nonce"], reply["encrypt"]
    )
    assert sqlite_inbox.items() == []  # a handshake, not an event


def test_dingtalk_event_is_stored_decrypted_once(
    make_client: Any, sqlite_inbox: SqlInbox, clock: Any
) -> None:
    client = _ding_client(make_client)
    crypt = MsgCrypt(DING["token"], DING["aes"], DING["key"])
    event = b'{"EventType":"bpms_instance_change","processInstanceId":"pi-1","type":"finish","result":"agree"}'
    for nonce in ("n0nce001", "n0nce002"):  # DingTalk re-seals a retried event with a new nonce
        sealed = crypt.encrypt(event)
        ts = str(int(clock.now * 1000))
        params = {
            "msg_signature": crypt.signature(ts, nonce, sealed),
            "timestamp": ts,
            "nonce": nonce,
        }
        assert (
            client.post("/webhooks/ding", params=params, json={"encrypt": sealed}).status_code
            == 200
        )
    [item] = sqlite_inbox.items()
    assert (item.payload, item.content_type) == (event, "application/json")


@pytest.mark.parametrize("problem", ["signature", "stale", "other_receiver"])
def test_dingtalk_rejections_store_nothing(
    make_client: Any, sqlite_inbox: SqlInbox, clock: Any, problem: str
) -> None:
    client = _ding_client(make_client)
    owner = "dingotherapp000000" if problem == "other_receiver" else DING["key"]
    crypt = MsgCrypt(DING["token"], DING["aes"], owner)
    sealed = crypt.encrypt(b'{"EventType":"user_add_org"}')
    ts = str(int((clock.now - (400 if problem == "stale" else 0)) * 1000))
    signature = crypt.signature(ts, "abc", sealed)
    if problem == "signature":
        signature = "0" * 40
    params = {"msg_signature": signature, "timestamp": ts, "nonce": "abc"}
    response = client.post("/webhooks/ding", params=params, json={"encrypt": sealed})
    assert response.status_code == 401
    assert sqlite_inbox.items() == []


# --- WeCom through the receiver ---------------------------------------------------------------------


def test_wecom_url_verification_vector_answers_the_plain_echostr(
    make_client: Any, sqlite_inbox: SqlInbox, clock: Any
) -> None:
    clock.now = float(WECOM_ECHO["timestamp"]) + 1
    response = _wecom_client(make_client).get("/webhooks/wecom", params=WECOM_ECHO)
    assert response.status_code == 200
    assert response.content == b"1616140317555161061"  # the plaintext only: no quotes, no newline
    assert sqlite_inbox.items() == []


def test_wecom_message_vector_is_stored_by_msg_id(
    make_client: Any, sqlite_inbox: SqlInbox, clock: Any
) -> None:
    clock.now = float(WECOM_MSG["timestamp"]) + 1
    client = _wecom_client(make_client)
    body = (
        "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>"
        f"<AgentID><![CDATA[218]]></AgentID><Encrypt><![CDATA[{WECOM_ENCRYPT}]]></Encrypt></xml>"
    ).encode()
    for _ in range(2):
        response = client.post("/webhooks/wecom", params=WECOM_MSG, content=body)
        assert (response.status_code, response.content) == (200, b"")
    [item] = sqlite_inbox.items()
    assert item.key == "wecom:msg:4561255354251345929"
    assert b"<Content><![CDATA[hello]]></Content>" in item.payload
    forged = {**WECOM_MSG, "msg_signature": "1" * 40}
    assert client.post("/webhooks/wecom", params=forged, content=body).status_code == 401
    clock.now += 3600
    assert (
        client.post("/webhooks/wecom", params=WECOM_MSG, content=body).status_code == 401
    )  # stale


# --- Feishu through the receiver --------------------------------------------------------------------


def _lark_post(
    client: Any, inner: dict[str, Any], key: str, ts: str, sign: bool = True, **override: str
) -> Any:
    body = json.dumps({"encrypt": feishu_encrypt(key, json.dumps(inner).encode())}).encode()
    headers = {"Content-Type": "application/json"}
    if sign:
        headers |= {
            "X-Lark-Request-Timestamp": ts,
            "X-Lark-Request-Nonce": "n-1",
            "X-Lark-Signature": feishu_signature(ts, "n-1", key, body),
        }
    headers |= override
    return client.post("/webhooks/lark", content=body, headers=headers)


LARK_TOKEN = "vtoken"


def _lark_event(event_id: str, token: str = LARK_TOKEN) -> dict[str, Any]:
    return {
        "schema": "2.0",
        "header": {
            "event_id": event_id,
            "event_type": "contact.user.updated_v3",
            "create_time": "1700000000000",
            "token": token,
            "app_id": "cli_a1",
            "tenant_key": "t1",
        },
        "event": {"object": {"open_id": "ou_1", "name": "张三"}},
    }


def test_feishu_url_verification_and_signed_events(
    make_client: Any, sqlite_inbox: SqlInbox, clock: Any
) -> None:
    client = make_client("lark", scheme="feishu", secret="test key", verification_token="vtoken")
    ts = str(int(clock.now))
    challenge = {"challenge": "ajls384kdjx98XX", "token": "vtoken", "type": "url_verification"}
    response = _lark_post(client, challenge, "test key", ts, sign=False)
    assert (response.status_code, response.json()) == (200, {"challenge": "ajls384kdjx98XX"})
    for _ in range(2):  # a redelivery of the same event id is stored once
        response = _lark_post(client, _lark_event("ev-1"), "test key", ts)
        assert (response.status_code, response.json()) == (200, {"msg": "success"})
    [item] = sqlite_inbox.items()
    assert item.key == "feishu:event:ev-1"
    assert b"vtoken" not in item.payload
    assert json.loads(item.payload)["event"]["object"]["name"] == "张三"


@pytest.mark.parametrize("problem", ["unsigned", "bad_signature", "stale", "token", "wrong_key"])
def test_feishu_rejections_store_nothing(
    make_client: Any, sqlite_inbox: SqlInbox, clock: Any, problem: str
) -> None:
    client = make_client("lark", scheme="feishu", secret="test key", verification_token="vtoken")
    ts = str(int(clock.now) - (400 if problem == "stale" else 0))
    event = _lark_event("ev-2", token="guess" if problem == "token" else "vtoken")
    key = "another key" if problem == "wrong_key" else "test key"
    override = {"X-Lark-Signature": "0" * 64} if problem == "bad_signature" else {}
    response = _lark_post(client, event, key, ts, sign=problem != "unsigned", **override)
    assert response.status_code == 401, response.text
    assert sqlite_inbox.items() == []


def test_feishu_plain_events_are_authenticated_by_token_which_is_not_stored(
    make_client: Any, sqlite_inbox: SqlInbox
) -> None:
    client = make_client("lark", scheme="feishu", verification_token="vtoken")
    body = json.dumps(_lark_event("ev-3"), ensure_ascii=False).encode()
    assert client.post("/webhooks/lark", content=body).status_code == 200
    wrong = json.dumps(_lark_event("ev-4", token="nope")).encode()
    assert client.post("/webhooks/lark", content=wrong).status_code == 401
    [item] = sqlite_inbox.items()
    stored = json.loads(item.payload)
    assert stored["header"]["token"] == ""  # the credential stays out of the database
    assert b"vtoken" not in item.payload
    expected = _lark_event("ev-3")
    expected["header"]["token"] = ""
    assert stored == expected  # everything else as sent
