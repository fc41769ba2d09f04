"""Origins as browsers send them (`Origin` header), read strictly from forms and partners.

An allowed origin goes into the Content-Security-Policy (`frame-ancestors`) and is compared with
the `Origin` of requests, so only scheme, host and port are taken, normalised the way browsers
serialise them.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import idna


def is_allowed_origin(value: str) -> bool:
    """Whether `value` is an http(s) origin (see `normalise_origin`), and nothing more."""
    try:
        normalise_origin(value)
    except ValueError:
        return False
    return True


# scheme://host[:port][/], nothing else: no user, path, query, fragment, space or `;`. The
# host is checked below; this only takes the value apart.
_ORIGIN = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>\[[0-9A-Fa-f:.]+\]|[^\[\]:/?#@\s;,'\"\\]+)"
    r"(?::(?P<port>[0-9]{1,5}))?/?"
)
# A DNS label as CSP's host-source and browsers take it: letters, digits, inner hyphens.
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def normalise_origin(value: str) -> str:
    """The origin as a browser serialises it in its `Origin` header, so the two compare equal.

    Only an origin is taken: http or https, a host name (labels of letters, digits and inner
    hyphens), an IPv4 or a bracketed IPv6 address, an optional port, an optional final `/`.
    Wildcards, paths, spaces, `;` and anything else a CSP header would read as more than one
    origin are refused. Lower-case scheme and host, no default port, IPv6 in its short form,
    non-ASCII host names in punycode (UTS #46, as browsers do). Raises ValueError for
    anything that is not an http(s) origin, `null` included.
    """
    match = _ORIGIN.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not an http(s) origin: {value!r}")
    scheme = match["scheme"].lower()
    if scheme not in {"http", "https"}:
        raise ValueError(f"not an http(s) origin: {value!r}")
    host = _host(match["host"])
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"not a port: {port}")
    default_port = {"http": 80, "https": 443}[scheme]
    suffix = f":{port}" if port and port != default_port else ""
    return f"{scheme}://{host}{suffix}"


def _host(raw: str) -> str:
    if raw.startswith("["):
        try:
            return f"[{ipaddress.IPv6Address(raw[1:-1]).compressed}]"
        except ValueError as error:
            raise ValueError(f"not an IPv6 address: {raw!r}") from error
    host = raw.lower()
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError as error:
            raise ValueError(f"not a host name: {raw!r}") from error
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"not a host name: {raw!r}")
    return host


def origin_of(url: str) -> str:
    """The normalised origin of an http(s) URL (its path and query left aside)."""
    parts = urlsplit(url)
    return normalise_origin(f"{parts.scheme}://{parts.netloc}")
