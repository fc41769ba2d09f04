"""Login attempts counted before the password is checked, per address and per account.

Each attempt takes one unit from two fixed windows (`RATELIMIT_LOGIN` per client address,
`RATELIMIT_LOGIN_ACCOUNT` per account) with the storage's atomic increment (Redis `INCRBY` in
production): a burst of parallel guesses cannot all be checked before the count catches up, and
a refused attempt never reaches the password hash. A successful login gives its unit back, so
only failures count. The account key is the account the lookup found (its public id), not the
address as typed, so the address with a full-width letter or a variation selector counts against
the real one; the per-account limit does not involve the client address, so changing address on
every guess does not help.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass, field

from email_validator import EmailNotValidError
from flask import current_app
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, Storage
from limits.strategies import FixedWindowRateLimiter

from capture.accounts.user import User
from capture.base.extensions import limiter
from capture.forms.values import normalise_email

log = logging.getLogger(__name__)


@dataclass
class Attempt:
    """The units one attempt took, to give back if it succeeds; `retry_after` when refused."""

    storage: Storage | None = None
    taken: list[tuple[RateLimitItem, tuple[str, ...]]] = field(default_factory=list)
    retry_after: int = 0

    @property
    def refused(self) -> bool:
        return self.retry_after > 0


def account_key(user: User | None, address: str) -> str:
    """Who is being guessed at: the account found, else the (normalised) address, hashed so the
    counters never hold addresses."""
    if user is not None:
        who = f"user:{user.public_id}"
    else:
        try:
            who = "address:" + normalise_email(address)
        except EmailNotValidError:
            who = "typed:" + address.strip().lower()
    return hashlib.sha256(who.encode()).hexdigest()[:32]


def _fallback() -> FixedWindowRateLimiter:
    """Counts kept in this process while the shared storage is unreachable."""
    cached = current_app.extensions.get("leadgate.login_fallback")
    if cached is None:
        cached = FixedWindowRateLimiter(MemoryStorage())
        current_app.extensions["leadgate.login_fallback"] = cached
    return cached


def _take(
    strategy: FixedWindowRateLimiter, checks: list[tuple[RateLimitItem, tuple[str, ...]]]
) -> Attempt:
    attempt = Attempt(storage=strategy.storage)
    for item, keys in checks:
        allowed = strategy.hit(item, *keys)  # increment-and-compare in one storage call
        attempt.taken.append((item, keys))
        if not allowed:
            reset = strategy.get_window_stats(item, *keys).reset_time
            attempt.retry_after = max(attempt.retry_after, math.ceil(reset - time.time()), 1)
    return attempt


def take_attempt(user: User | None, address: str) -> Attempt:
    """Count one login attempt; `.refused` when the address or the account is over its limit."""
    config = current_app.config
    if not config.get("RATELIMIT_ENABLED", True):
        return Attempt()
    prefix = str(config.get("RATELIMIT_KEY_PREFIX") or "leadgate")
    by_address: tuple[str, ...] = (prefix, "login-address", get_remote_address())
    by_account: tuple[str, ...] = (prefix, "login-account", account_key(user, address))
    checks = [(item, by_address) for item in parse_many(config["RATELIMIT_LOGIN"])]
    checks += [(item, by_account) for item in parse_many(config["RATELIMIT_LOGIN_ACCOUNT"])]
    try:
        return _take(FixedWindowRateLimiter(limiter.storage), checks)
    except Exception:  # any storage failure: count here rather than not at all
        log.warning("login limit storage unreachable: counting in this process", exc_info=True)
        return _take(_fallback(), checks)


def give_back(attempt: Attempt) -> None:
    """A successful login does not count against anyone's limit."""
    if attempt.storage is None:
        return
    try:
        for item, keys in attempt.taken:
            attempt.storage.incr(item.key_for(*keys), item.get_expiry(), amount=-1)
    except Exception:  # the unit stays taken until the window ends
        log.warning("could not give a login attempt back", exc_info=True)
