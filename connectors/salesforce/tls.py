"""TLS for the emulator and a ``requests.Session`` that reaches it as if it were Salesforce.

simple-salesforce hard-codes ``https://{domain}.salesforce.com`` for login and ``https://{instance}``
for data (apis.md §0.1 [V]), so the emulator serves HTTPS with a throw-away CA (``trustme``, a test
extra imported only when TLS material is made) and the session mounts an adapter that sends every
``*.salesforce.com`` request to the loopback port, over a real TLS socket. The CA is pinned inside
the adapter because ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` in the environment override
``Session.verify`` (apis.md §0.1 [V]). The adapter also ignores proxy settings: the target is
loopback.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

# Hosts the routed session sends to the emulator (login, test, My Domain and instance hosts).
SALESFORCE_SUFFIXES = (".salesforce.com", ".force.com")
CERT_IDENTITIES = (
    "127.0.0.1",
    "localhost",
    "login.salesforce.com",
    "test.salesforce.com",
    "*.my.salesforce.com",
    "*.salesforce.com",
)


@dataclass(frozen=True)
class TlsFiles:
    ca_file: str
    cert_file: str
    key_file: str


_cached: TlsFiles | None = None
_cache_lock = threading.Lock()


def tls_files(directory: str | Path | None = None) -> TlsFiles:
    """A CA and a server certificate for loopback and the Salesforce host names.

    Without ``directory`` one set per process is made in a temporary directory and reused.
    """
    global _cached
    if directory is None:
        with _cache_lock:
            if _cached is None:
                _cached = _make(Path(tempfile.mkdtemp(prefix="sf-emulator-tls-")))
            return _cached
    return _make(Path(directory))


def _make(directory: Path) -> TlsFiles:
    import trustme  # test extra: only needed when the emulator actually serves TLS

    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="Huitong emulator CA")
    leaf = ca.issue_cert(*CERT_IDENTITIES)
    files = TlsFiles(
        str(directory / "ca.pem"), str(directory / "server.pem"), str(directory / "server.key")
    )
    ca.cert_pem.write_to_path(files.ca_file)
    leaf.cert_chain_pems[0].write_to_path(files.cert_file)
    for extra in leaf.cert_chain_pems[1:]:
        extra.write_to_path(files.cert_file, append=True)
    leaf.private_key_pem.write_to_path(files.key_file)
    return files


def is_salesforce_host(host: str) -> bool:
    return any(host == s[1:] or host.endswith(s) for s in SALESFORCE_SUFFIXES)


class EmulatorAdapter(HTTPAdapter):
    """Sends ``https://*.salesforce.com/...`` to ``https://127.0.0.1:{port}/...``, CA pinned.

    The original host travels in the ``Host`` header, as it would to the real service.
    """

    def __init__(self, port: int, ca_file: str) -> None:
        super().__init__()
        self.port = port
        self.ca_file = ca_file

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        parts = urlsplit(request.url or "")
        host = parts.hostname or ""
        if is_salesforce_host(host):
            request.headers["Host"] = parts.netloc
            request.url = urlunsplit(
                ("https", f"127.0.0.1:{self.port}", parts.path, parts.query, parts.fragment)
            )
        return super().send(
            request, stream=stream, timeout=timeout, verify=self.ca_file, cert=cert, proxies={}
        )


def routed_session(port: int, ca_file: str, **session_attrs: Any) -> requests.Session:
    """A session on which the real Salesforce URLs reach the emulator listening on ``port``."""
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_file
    adapter = EmulatorAdapter(port, ca_file)
    session.mount("https://", adapter)
    for name, value in session_attrs.items():
        setattr(session, name, value)
    return session
