"""Back-office users: the model, roles and password hashing (argon2id).

There are no default accounts: users come from `leadgate users create` (or the demo).
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError
from flask import current_app
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column

from capture.base.db import Model, db, new_public_id, utcnow
from capture.base.personal import NotPersonal
from capture.forms.values import normalise_email

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 1024  # argon2 takes any length; this only stops absurd inputs
PASSWORD_RULE = (
    f"Passwords need at least {PASSWORD_MIN_LENGTH} characters "
    f"(at most {PASSWORD_MAX_LENGTH}); a few unrelated words make a good one."
)


def _hashing() -> tuple[PasswordHasher, str]:
    """The app's argon2id hasher (RFC 9106 parameters; tests may pick a cheap profile) and a
    hash to check when the e-mail is unknown, so a wrong address costs what a wrong password
    does and response times do not reveal which accounts exist."""
    cached = current_app.extensions.get("leadgate.password_hashing")
    if cached is None:
        parameters = getattr(profiles, current_app.config["PASSWORD_HASH_PROFILE"])
        hasher = PasswordHasher.from_parameters(parameters)
        cached = (hasher, hasher.hash("no such user, but take as long as if there were"))
        current_app.extensions["leadgate.password_hashing"] = cached
    return cached


class Role(StrEnum):
    ADMIN = "admin"
    MARKETER = "marketer"
    SALES = "sales"


class AccountError(ValueError):
    """A user cannot be created as asked; the message says why, for the person at the CLI."""


class User(UserMixin, Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        sa.String(40), unique=True, default=lambda: new_public_id("usr")
    )
    # Stored normalised and lower-cased, so uniqueness is case-insensitive on every backend.
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(20))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Goes up to end every session of the user at once (logout, password change, deactivation):
    # a session holds the number it started with and is let in only while it is current.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")

    __privacy__ = NotPersonal(
        keep=("public_id", "email", "password_hash", "role"),
        why="staff accounts: a person's erasure as a lead does not touch them (deactivate users)",
    )

    def get_id(self) -> str:
        """What the session remembers: the public id (never the sequential database id) and
        the session generation, checked by `load_user` on every request."""
        return f"{self.public_id}.{self.session_generation}"

    def end_sessions(self) -> None:
        """Make every session of this user worthless, server-side (flushed with the caller's
        commit); the number is raised in SQL, so two at once both count."""
        self.session_generation = User.session_generation + 1

    def change_password(self, password: str) -> None:
        """A new password (checked by the caller) and the end of every session on the old one."""
        self.set_password(password)
        self.end_sessions()

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    def set_password(self, password: str) -> None:
        self.password_hash = _hashing()[0].hash(password)

    def check_password(self, password: str) -> bool:
        """True when `password` matches; upgrades the hash when argon2's parameters changed."""
        hasher = _hashing()[0]
        try:
            hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        if hasher.check_needs_rehash(self.password_hash):
            self.set_password(password)
        return True


def password_problem(password: str) -> str | None:
    if len(password) < PASSWORD_MIN_LENGTH or len(password) > PASSWORD_MAX_LENGTH:
        return PASSWORD_RULE
    return None


def find_user(email: str) -> User | None:
    try:
        address = normalise_email(email)
    except EmailNotValidError:
        return None
    return db.session.scalar(sa.select(User).where(User.email == address))


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None; takes the same time either way."""
    return verify(find_user(email), password)


def verify(user: User | None, password: str) -> User | None:
    """`user` when active and `password` is theirs, else None; as slow for no user at all."""
    if user is None:
        hasher, dummy = _hashing()
        with contextlib.suppress(VerificationError):
            hasher.verify(dummy, password)
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    return user


def create_user(email: str, role: Role | str, password: str) -> User:
    """Add a user (flushed, not committed). Raises `AccountError` with a sentence for people."""
    try:
        address = normalise_email(email)
    except EmailNotValidError as exc:
        raise AccountError(f"{email!r} is not a valid e-mail address: {exc}") from None
    try:
        role = Role(role)
    except ValueError:
        raise AccountError(f"unknown role {role!r}: use admin, marketer or sales") from None
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    if db.session.scalar(sa.select(User.id).where(User.email == address)) is not None:
        raise AccountError(f"a user with the e-mail address {address} already exists")
    user = User(email=address, role=role.value, active=True)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user
