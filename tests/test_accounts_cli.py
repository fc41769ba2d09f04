"""`leadgate users create`: password from stdin, hashed with argon2id; clear errors on stderr."""

from __future__ import annotations

import sqlalchemy as sa
from argon2 import PasswordHasher

from capture.accounts import User
from capture.base.db import db

PASSWORD = "a long enough passphrase"


def users(app):
    return db.session.scalars(sa.select(User)).all()


def test_create_user_reads_password_from_stdin(app_context, app, runner):
    result = runner.invoke(
        args=["users", "create", "Ane@Firma.DK", "--role", "marketer"], input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    assert "ane@firma.dk" in result.stdout and "marketer" in result.stdout
    [user] = users(app)
    assert user.email == "ane@firma.dk" and user.role == "marketer" and user.active
    assert user.password_hash != PASSWORD and PASSWORD not in user.password_hash
    assert user.password_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(user.password_hash, PASSWORD)
    assert user.check_password(PASSWORD) and not user.check_password(PASSWORD + "x")
    assert PASSWORD not in result.output


def test_short_password_is_refused_with_the_rule(app_context, app, runner):
    result = runner.invoke(
        args=["users", "create", "ane@firma.dk", "--role", "admin"], input="short\n"
    )
    assert result.exit_code == 1
    assert "at least 12 characters" in result.stderr
    assert result.stdout == ""
    assert users(app) == []


def test_duplicate_email_is_refused_case_insensitively(app_context, app, runner):
    args = ["users", "create", "ane@firma.dk", "--role", "sales"]
    assert runner.invoke(args=args, input=PASSWORD + "\n").exit_code == 0
    again = runner.invoke(
        args=["users", "create", "ANE@firma.dk", "--role", "admin"], input=PASSWORD + "\n"
    )
    assert again.exit_code == 1
    assert "already exists" in again.stderr
    assert len(users(app)) == 1


def test_bad_email_and_bad_role_are_refused(app_context, app, runner):
    bad_email = runner.invoke(
        args=["users", "create", "not-an-address", "--role", "admin"], input=PASSWORD + "\n"
    )
    assert bad_email.exit_code == 1 and "not a valid e-mail address" in bad_email.stderr
    bad_role = runner.invoke(
        args=["users", "create", "ane@firma.dk", "--role", "boss"], input=PASSWORD + "\n"
    )
    assert bad_role.exit_code != 0 and "boss" in bad_role.stderr
    assert users(app) == []


def test_demo_creates_one_admin_with_a_random_password(app_context, app, runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    found = users(app)
    [user] = [u for u in found if u.role == "admin"]
    line = next(line for line in result.stdout.splitlines() if "admin login" in line)
    password = line.split("password:")[1].strip()
    assert len(password) >= 12 and user.check_password(password)
    # And the two sales reps the routing rules name (capture.routing.demo), each its own.
    reps = {u.email: u for u in found if u.role == "sales"}
    assert len(reps) == 2 == len(found) - 1
    for line in result.stdout.splitlines():
        if "sales login" in line:
            email, password = line.split(": ", 1)[1].split("  password: ")
            assert len(password) >= 12 and reps[email.strip()].check_password(password.strip())
