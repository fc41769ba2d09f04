"""Owners and routing: sales teams, ordered rules, round robin, and who hears of a new SQL.

Routing sits between the core and what notifies people: it reads leads, forms and accounts,
and `capture.delivery.webhooks` calls `route_sql` first in its `stage_moved` receiver.
"""

from __future__ import annotations

from capture.routing.document import RoutingDocument, RoutingInvalid, current, parse, replace
from capture.routing.history import OwnerChange, changes_of, set_owner
from capture.routing.route import Routed, UnknownOwner, can_own, owner_filter, route_sql
from capture.routing.rule import RoutingRule
from capture.routing.team import SalesTeam, TeamMember

__all__ = [
    "OwnerChange",
    "Routed",
    "RoutingDocument",
    "RoutingInvalid",
    "RoutingRule",
    "SalesTeam",
    "TeamMember",
    "UnknownOwner",
    "can_own",
    "changes_of",
    "current",
    "owner_filter",
    "parse",
    "replace",
    "route_sql",
    "set_owner",
]
