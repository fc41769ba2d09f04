"""The demo's routing: a Swedish and a Danish sales rep, each owning their country's SQLs,
and both in the fallback team, so `leadgate demo` shows routing at work."""

from __future__ import annotations

import secrets

from capture.accounts import Role, create_user
from capture.routing.document import parse, replace

DEMO_REPS = {"SE": "sven.saljare@example.com", "DK": "dorthe.saelger@example.com"}


def demo_routing() -> list[str]:
    """Add the reps (random passwords, printed once) and the rules; returns lines to print."""
    lines = []
    for country, email in DEMO_REPS.items():
        password = secrets.token_urlsafe(12)
        create_user(email, Role.SALES, password)
        lines.append(f"  sales login ({country}): {email}  password: {password}")
    replace(
        parse(
            {
                "teams": [{"slug": "nordics", "name": "Nordics", "members": [*DEMO_REPS.values()]}],
                "rules": [
                    {"when": {"country": [country]}, "owner": email}
                    for country, email in DEMO_REPS.items()
                ],
                "fallback_team": "nordics",
            }
        )
    )
    lines.append("  routing: SE SQLs to Sven, DK SQLs to Dorthe, others in turn (/admin/routing/)")
    return lines
