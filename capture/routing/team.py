"""Sales teams: who is in them, and the turn counter that makes round robin fair."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from capture.accounts import Role, User
from capture.base.db import Model, db, table_of
from capture.base.personal import NotPersonal


class SalesTeam(Model):
    __tablename__ = "sales_teams"
    __privacy__ = NotPersonal(keep=("slug", "name"), why="groups of staff accounts")

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # The team that gets a new SQL no rule matched (at most one).
    fallback: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # How many leads round robin has handed out: the next goes to member `turns % count`.
    turns: Mapped[int] = mapped_column(default=0, server_default="0")


class TeamMember(Model):
    __tablename__ = "sales_team_members"
    __privacy__ = NotPersonal(keep=(), why="which staff account is in which team")

    team_id: Mapped[int] = mapped_column(
        sa.ForeignKey("sales_teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(default=0)


def active_members(team: SalesTeam) -> list[User]:
    """The team's active sales users, in the team's order: round robin's circle."""
    return list(
        db.session.scalars(
            sa.select(User)
            .join(TeamMember, TeamMember.user_id == User.id)
            .where(
                TeamMember.team_id == team.id,
                User.active.is_(True),
                User.role == Role.SALES.value,
            )
            .order_by(TeamMember.position, User.id)
        )
    )


def next_turn(team: SalesTeam) -> int:
    """Take the team's next turn, atomically: one `UPDATE ... RETURNING` that row-locks the
    team until the transaction ends, so two SQLs routed at once never get the same turn
    (PostgreSQL makes the second wait for the first; SQLite writes one at a time anyway)."""
    teams = table_of(SalesTeam)
    taken = db.session.execute(
        sa.update(teams)
        .where(teams.c.id == team.id)
        .values(turns=teams.c.turns + 1)
        .returning(teams.c.turns)
    ).scalar_one()
    return int(taken) - 1


def round_robin(team: SalesTeam) -> User | None:
    """The member whose turn it is, or None when the team has no active sales user."""
    members = active_members(team)
    if not members:
        return None
    return members[next_turn(team) % len(members)]
