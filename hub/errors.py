"""Errors, sorted by what the caller should do.

=================  ===========================================  ==========================================
class              meaning                                      what the caller does
=================  ===========================================  ==========================================
ConfigError        the configuration is wrong (file, key path)  stop at start; exit code 2; fix the file
FatalError         the system cannot be used at all             stop this system's run; run marked failed
AuthError          credentials rejected or expired              refresh once, then fatal for this system
RetriableError     transient: 5xx, timeout, dropped connection  retry with backoff + jitter, capped in time
RateLimited        429 / quota: wait ``retry_after`` seconds    pause this system's pacer, then retry
SkippableError     this one record is bad (validation, mapping) reject it with where and why; batch goes on
=================  ===========================================  ==========================================

Messages never carry secrets: settings hold them as ``SecretStr`` and URLs are sanitised before they are
put into an error (``sanitize_url``).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit


class HuitongError(Exception):
    """Base of every error the hub raises on purpose."""


class ConfigError(HuitongError):
    """The configuration is invalid. ``problems`` lists each one as 'where: what'."""

    def __init__(self, problems: list[str] | str, source: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        head = f"invalid configuration in {source}" if source else "invalid configuration"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


class FatalError(HuitongError):
    """The system cannot be used for this run (unreachable, misconfigured on its side)."""


class AuthError(FatalError):
    """Credentials rejected or expired."""


class RetriableError(HuitongError):
    """A transient failure: the same call may succeed later."""


class RateLimited(RetriableError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SkippableError(HuitongError):
    """One record cannot be used; the batch goes on."""


_SECRET_QUERY_KEYS = re.compile(
    r"(?i)(token|secret|password|passwd|pwd|key|signature|sig|access_token|client_secret)=([^&]*)"
)


def sanitize_url(url: str) -> str:
    """Drop user info and mask secret-looking query values so a URL can be logged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    if parts.username or parts.password:
        netloc = "***@" + netloc
    query = _SECRET_QUERY_KEYS.sub(lambda m: f"{m.group(1)}=***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
