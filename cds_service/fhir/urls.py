"""The one place that decides where an outgoing request goes.

Every URL the service connects to — the ``fhirServer`` of a hook call, the
queries built on it, paging ``next`` links (from a prefetched Bundle or from
the server), JWKS URLs — is parsed here once, *with the parser that connects*:
the URL is prepared exactly as ``requests`` prepares it (urllib3's
``parse_url``, IDNA, re-quoting) and the prepared URL is split again, by
urllib3 and by ``urllib.parse`` (which ``requests`` uses to pick the
connection); when the two disagree the URL is refused. The caller then
connects to :attr:`Target.url`, the prepared URL, so what was checked is what
is sent.

Refused outright (:class:`UnsafeUrl`): backslashes, control characters and
spaces, non-ASCII text, userinfo (``user@``), fragments, a scheme other than
http/https, a missing host, percent-encoded dots, slashes or backslashes in the
path, dot segments that survive preparation (``%2e%2e`` becomes ``..`` when
``requests`` re-quotes), and ``..;`` path-parameter tricks. Comparison is on
parsed parts: scheme, host (lower case), port (default filled in) and the
path with dot segments removed.

Error messages never repeat the URL (it may hold a patient id) and say nothing
about whether anything listens there.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from requests.exceptions import RequestException
from requests.models import PreparedRequest
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

__all__ = ["Target", "UnsafeUrl", "parse_target", "resolve_link", "is_loopback_host"]

DEFAULT_PORTS = {"http": 80, "https": 443}
# Anything at or below space, DEL, and the backslash: requests/urllib3 and urllib.parse disagree on them.
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f\\]")
_ENCODED_SEPARATOR = re.compile(r"%(2e|2f|5c|00)", re.IGNORECASE)


class UnsafeUrl(ValueError):
    """A URL the service will not connect to. The message never contains the URL."""


@dataclass(frozen=True)
class Target:
    """A URL as the HTTP stack will use it: where it connects and what path it asks for."""

    scheme: str
    host: str  # lower case; IPv6 without brackets
    port: int  # the default port filled in
    path: str  # dot segments removed; "" for the root
    query: str | None
    url: str  # the prepared URL: connect to exactly this

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    @property
    def base(self) -> str:
        """Canonical form for comparing base URLs (no query, no trailing slash)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if DEFAULT_PORTS.get(self.scheme) == self.port else f":{self.port}"
        return f"{self.scheme}://{host}{port}{self.path}"

    def is_within(self, base: "Target") -> bool:
        """Same scheme, host and port, and the path is ``base``'s path or below it."""
        if self.origin != base.origin:
            return False
        return self.path == base.path or self.path.startswith(base.path + "/")

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.host)


def is_loopback_host(host: str | None) -> bool:
    """``localhost`` or a loopback IP literal (never a name that merely resolves to one)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_target(url: object, *, allow_query: bool = True) -> Target:
    """Parse ``url`` as the connecting stack does, or raise :class:`UnsafeUrl` saying why (not where)."""
    if not isinstance(url, str) or not url:
        raise UnsafeUrl("not a URL")
    if _FORBIDDEN.search(url):
        raise UnsafeUrl("a URL must not contain backslashes, spaces or control characters")
    if not url.isascii():
        raise UnsafeUrl("a URL must be ASCII (percent-encode the path, punycode the host)")
    if "#" in url:
        raise UnsafeUrl("a URL must not have a fragment")
    try:
        prepared = PreparedRequest()
        prepared.prepare_url(url, None)
        final = prepared.url or ""
        again = PreparedRequest()
        again.prepare_url(final, None)  # requests prepares the URL once more when it sends it
        parsed = parse_url(final)
        split = urlsplit(final)
        split_port = split.port
    except (RequestException, LocationParseError, ValueError, UnicodeError):
        raise UnsafeUrl("not a valid URL") from None
    if again.url != final:
        raise UnsafeUrl("the URL is ambiguous (it changes when prepared again)")
    scheme = (parsed.scheme or "").lower()
    if scheme not in DEFAULT_PORTS:
        raise UnsafeUrl("only http and https URLs are allowed")
    if parsed.auth is not None or split.username is not None or "@" in (split.netloc or ""):
        raise UnsafeUrl("a URL must not carry user information (user@host)")
    host = (parsed.host or "").lower().strip("[]")
    if not host:
        raise UnsafeUrl("a URL needs a host")
    if "%" in host:
        raise UnsafeUrl("a URL host must not be percent-encoded or carry an IPv6 zone")
    port = parsed.port if parsed.port is not None else DEFAULT_PORTS[scheme]
    # requests picks the connection with urllib.parse: both parsers must agree on where it goes.
    if ((split.hostname or "").lower().strip("[]") != host or split.scheme.lower() != scheme
            or (split_port if split_port is not None else DEFAULT_PORTS[scheme]) != port):
        raise UnsafeUrl("the URL is ambiguous")
    path = parsed.path or ""
    if _ENCODED_SEPARATOR.search(url.split("?", 1)[0]):
        raise UnsafeUrl("a URL path must not percent-encode dots, slashes or backslashes")
    if _ENCODED_SEPARATOR.search(path):
        raise UnsafeUrl("a URL path must not percent-encode dots, slashes or backslashes")
    segments = path.split("/")
    if any(s.split(";", 1)[0] in (".", "..") for s in segments):
        raise UnsafeUrl("a URL path must not contain dot segments")
    if parsed.query is not None and not allow_query:
        raise UnsafeUrl("a base URL must not have a query")
    return Target(scheme=scheme, host=host, port=port, path=path.rstrip("/"), query=parsed.query, url=final)


def resolve_link(base: Target, link: object) -> Target:
    """A link found in a response (e.g. a Bundle's ``next``), relative to ``base``, parsed like :func:`parse_target`.

    The raw text is checked first: ``urljoin`` silently drops tabs and newlines,
    and the service must refuse what it did not parse, not connect to a repaired URL.
    """
    if not isinstance(link, str) or not link:
        raise UnsafeUrl("not a URL")
    if _FORBIDDEN.search(link) or not link.isascii():
        raise UnsafeUrl("a URL must not contain backslashes, spaces, control characters or non-ASCII text")
    return parse_target(urljoin(base.url.rstrip("/") + "/", link))
