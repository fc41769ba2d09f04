"""Which network addresses a webhook may reach: public ones only (SSRF protection).

Loopback, private, link-local (cloud metadata at 169.254.169.254 among them), shared (CGNAT),
reserved, multicast and unspecified addresses are refused, as are IPv6 forms that embed them.
"""

from __future__ import annotations

import ipaddress

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def refusal(address: Address) -> str | None:
    """Why `address` may not be reached, or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return refusal(embedded)
    if address.is_loopback:
        return f"{address} is a loopback address"
    if address.is_link_local:
        return f"{address} is a link-local address (cloud metadata lives there)"
    if address.is_private or address.is_reserved or address.is_unspecified:
        return f"{address} is a private or reserved address"
    if address.is_multicast or not address.is_global:
        return f"{address} is not a public unicast address"
    return None


def refusal_for_literal(host: str) -> str | None:
    """For a host written as an IP address, why it is refused; None for names and public IPs."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    reason = refusal(address)
    if reason is None:
        return None
    return (
        f"Webhooks may not target private addresses: {reason} "
        "(WEBHOOK_ALLOW_PRIVATE_TARGETS=1 allows it, for local testing only)."
    )
