"""Sending one webhook: sign it (Standard Webhooks), POST it without following redirects, and
only ever to a public address, checked on the socket we actually connect (not only at save).

The check sits in the connection class: the host name is resolved once, every address it
resolves to is checked, and the socket is opened to a checked address. So a name that
resolves to 127.0.0.1 (or is re-pointed there after the endpoint was saved: DNS rebinding)
never gets a connection. TLS still verifies the certificate against the host name.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from datetime import UTC, datetime
from typing import Any

import urllib3
from flask import current_app
from standardwebhooks import Webhook
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from capture.base.db import db
from capture.delivery.outbox import Delivery, PermanentFailure
from capture.delivery.webhooks.address import refusal
from capture.delivery.webhooks.endpoint import WebhookEndpoint, find_endpoint

USER_AGENT = "Leadgate-Webhooks/1.0"
TIMEOUT = urllib3.Timeout(connect=5.0, read=15.0)


class RefusedAddress(Exception):
    """The destination resolves to an address webhooks may not reach."""


class WebhookFailed(Exception):
    """The receiver answered, but not with 2xx: worth retrying."""


class _PublicOnly:
    """Mixin for urllib3 connections: resolve, check every address, connect to a checked one."""

    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any
    _dns_host: str

    def _new_conn(self) -> socket.socket:
        try:
            found = socket.getaddrinfo(self._dns_host, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        addresses = []
        for *_, sockaddr in found:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
            reason = refusal(address)
            if reason:
                raise RefusedAddress(f"{self.host} resolves to {reason}; not connecting")
            if address not in addresses:
                addresses.append(address)
        last: OSError | None = None
        for address in addresses:
            try:
                return create_connection(
                    (str(address), self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as exc:
                last = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {last}")  # type: ignore[arg-type]


class PublicHTTPConnection(_PublicOnly, HTTPConnection):
    pass


class PublicHTTPSConnection(_PublicOnly, HTTPSConnection):
    pass


class PublicHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = PublicHTTPConnection


class PublicHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = PublicHTTPSConnection


def pool_manager(allow_private: bool) -> urllib3.PoolManager:
    manager = urllib3.PoolManager(retries=False, timeout=TIMEOUT)
    if not allow_private:
        manager.pool_classes_by_scheme = {
            "http": PublicHTTPConnectionPool,
            "https": PublicHTTPSConnectionPool,
        }
    return manager


def body_bytes(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(secret: str, webhook_id: str, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers; the timestamp is the moment of this attempt."""
    now = datetime.now(UTC)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, body.decode()),
    }


def disable(endpoint_id: str, reason: str) -> None:
    endpoint = find_endpoint(endpoint_id)
    if endpoint is not None:
        endpoint.active = False
        endpoint.disabled_reason = reason[:500]
    db.session.commit()


def send_webhook(delivery: Delivery) -> None:
    """The outbox sender for kind `webhook`: raise to retry, PermanentFailure to give up."""
    payload = delivery.payload
    endpoint: WebhookEndpoint | None = find_endpoint(payload["endpoint"])
    if endpoint is None:
        db.session.commit()
        raise PermanentFailure("the endpoint no longer exists")
    if not endpoint.active:
        reason = endpoint.disabled_reason or "disabled"
        db.session.commit()
        raise PermanentFailure(f"the endpoint is disabled ({reason})")
    url, secret = endpoint.url, endpoint.secret
    db.session.commit()  # no transaction stays open while we wait for the receiver

    body = body_bytes(payload["event"])
    headers = signed_headers(secret, payload["webhook_id"], body)
    manager = pool_manager(bool(current_app.config.get("WEBHOOK_ALLOW_PRIVATE_TARGETS")))
    try:
        response = manager.request("POST", url, body=body, headers=headers, redirect=False)
    except RefusedAddress as exc:
        raise PermanentFailure(str(exc)) from exc
    finally:
        manager.clear()
    status = response.status
    if 200 <= status < 300:
        return
    if status == 410:
        disable(payload["endpoint"], "the receiver answered 410 Gone")
        raise PermanentFailure("410 Gone: the endpoint was disabled")
    if 300 <= status < 400:
        location = response.headers.get("location", "")
        raise WebhookFailed(f"HTTP {status}: redirect to {location[:200]!r} not followed")
    snippet = response.data[:200].decode("utf-8", "replace")
    raise WebhookFailed(f"HTTP {status}: {snippet}")
