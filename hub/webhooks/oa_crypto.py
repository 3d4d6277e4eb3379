"""Callback cryptography of the Chinese OA platforms (apis.md §3, each checked against its vectors).

DingTalk and WeCom share one scheme (WXBizMsgCrypt; DingTalk's ``DingCallbackCrypto``):
* signature ``sha1(''.join(sorted([token, timestamp, nonce, encrypt])))``, lower-case hex;
* key ``base64(EncodingAESKey + "=")`` (32 bytes), AES-256-CBC with IV = key[:16];
* plaintext ``16 random bytes + 4-byte big-endian length + msg + receive id``, PKCS#7 padded to a
  32-byte block (pad values up to 32).

Feishu (Lark) Encrypt Key:
* key ``SHA-256(encrypt_key)``; ``base64(encrypt)`` = IV (16 bytes) + AES-256-CBC ciphertext,
  PKCS#7 with 16-byte blocks;
* ``X-Lark-Signature = hex(SHA-256((timestamp + nonce + encrypt_key).utf8 + body))``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import string

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class CryptoError(ValueError):
    """A ciphertext that does not decrypt to a well-formed message (wrong key, or tampered)."""


def _unpad(data: bytes, block: int) -> bytes:
    if not data or len(data) % 16:
        raise CryptoError("ciphertext length is not a whole number of AES blocks")
    pad = data[-1]
    if not 1 <= pad <= block or data[-pad:] != bytes([pad]) * pad:
        raise CryptoError("bad padding")
    return data[:-pad]


def _pad(data: bytes, block: int) -> bytes:
    pad = block - len(data) % block
    return data + bytes([pad]) * pad


def _aes_cbc(key: bytes, iv: bytes, data: bytes, encrypt: bool) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    worker = cipher.encryptor() if encrypt else cipher.decryptor()
    return worker.update(data) + worker.finalize()


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text.replace(" ", "+"), validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("not base64") from None


# --- DingTalk / WeCom ------------------------------------------------------------------------------


def sha1_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()  # noqa: S324 - the platforms' algorithm


def random_nonce(length: int = 16) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


class MsgCrypt:
    """One app's callback keys (token, EncodingAESKey, the receive id the platform appends)."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        key = _b64decode(encoding_aes_key + "=")
        if len(key) != 32:
            raise ValueError("EncodingAESKey must be 43 characters of base64 (a 32-byte key)")
        self._token = token
        self._key = key
        self.receive_id = receive_id

    def __repr__(self) -> str:
        return f"MsgCrypt(receive_id={self.receive_id!r})"

    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return sha1_signature(self._token, timestamp, nonce, encrypt)

    def signature_matches(self, signature: str, timestamp: str, nonce: str, encrypt: str) -> bool:
        expected = self.signature(timestamp, nonce, encrypt)
        return hmac.compare_digest(expected, signature.lower().encode("ascii", "replace").decode())

    def decrypt(self, encrypt: str) -> tuple[bytes, str]:
        """The message and the receive id it was sealed for."""
        plain = _unpad(_aes_cbc(self._key, self._key[:16], _b64decode(encrypt), False), 32)
        if len(plain) < 20:
            raise CryptoError("message too short")
        length = int.from_bytes(plain[16:20], "big")
        if 20 + length > len(plain):
            raise CryptoError("length prefix beyond the message")
        message, receive_id = plain[20 : 20 + length], plain[20 + length :]
        try:
            return message, receive_id.decode("utf-8")
        except UnicodeDecodeError:
            raise CryptoError("receive id is not text") from None

    def encrypt(self, message: bytes, random_prefix: bytes | None = None) -> str:
        prefix = random_prefix if random_prefix is not None else random_nonce(16).encode()
        plain = prefix + len(message).to_bytes(4, "big") + message + self.receive_id.encode()
        return base64.b64encode(_aes_cbc(self._key, self._key[:16], _pad(plain, 32), True)).decode()


# --- Feishu / Lark ------------------------------------------------------------------------------------


def feishu_decrypt(encrypt_key: str, encrypt: str) -> bytes:
    raw = _b64decode(encrypt)
    if len(raw) < 32:
        raise CryptoError("ciphertext too short")
    key = hashlib.sha256(encrypt_key.encode("utf-8")).digest()
    return _unpad(_aes_cbc(key, raw[:16], raw[16:], False), 16)


def feishu_encrypt(encrypt_key: str, message: bytes, iv: bytes | None = None) -> str:
    """The sender's side, for tests and the bench."""
    iv = iv if iv is not None else secrets.token_bytes(16)
    key = hashlib.sha256(encrypt_key.encode("utf-8")).digest()
    return base64.b64encode(iv + _aes_cbc(key, iv, _pad(message, 16), True)).decode()


def feishu_signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode("utf-8") + body).hexdigest()
