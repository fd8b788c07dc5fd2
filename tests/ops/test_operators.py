"""Console operators: argon2id hashes, roles, sessions that expire, login limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from realname.ops import operators
from realname.ops.errors import InvalidOperator, LoginFailed, LoginRateLimited
from realname.ops.operators import Role
from realname.store.models import Operator
from tests.ops.conftest import PASSWORD, T0

pytestmark = pytest.mark.storage


def test_the_password_is_stored_as_an_argon2id_hash(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        operators.create_operator(session, "Alice", PASSWORD, "reviewer", now=T0)
        stored = session.scalar(select(Operator))
        assert stored is not None
        assert stored.username == "alice"
        assert stored.password_hash.startswith("$argon2id$")
        assert PASSWORD not in stored.password_hash


@pytest.mark.parametrize(
    ("username", "password", "role"),
    [("a", PASSWORD, "reviewer"), ("bob", "short", "reviewer"), ("bob", PASSWORD, "admin")],
)
def test_bad_operators_are_refused(
    session_factory: sessionmaker[Session], username: str, password: str, role: str
) -> None:
    with session_factory() as session, pytest.raises(InvalidOperator):
        operators.create_operator(session, username, password, role, now=T0)


def test_a_session_signs_in_and_expires_when_idle(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        operators.create_operator(session, "alice", PASSWORD, Role.AUDITOR, now=T0)
        signed = operators.log_in(session, "ALICE", PASSWORD, client="10.0.0.1", now=T0)
        principal = operators.authenticate(session, signed.token, now=T0 + timedelta(minutes=20))
        assert principal is not None
        assert (principal.username, principal.role, principal.can_decide) == (
            "alice",
            Role.AUDITOR,
            False,
        )
        # Use moved the idle deadline: 20 + 29 minutes is still inside it.
        assert operators.authenticate(session, signed.token, now=T0 + timedelta(minutes=49))
        assert operators.authenticate(session, signed.token, now=T0 + timedelta(minutes=80)) is None
        operators.log_out(session, signed.token, now=T0)
        assert operators.authenticate(session, "not-a-token", now=T0) is None


def test_unknown_users_and_wrong_passwords_fail_alike_and_are_limited(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        operators.create_operator(session, "alice", PASSWORD, Role.REVIEWER, now=T0)
        for attempt in range(operators.MAX_FAILURES):
            with pytest.raises(LoginFailed):
                operators.log_in(session, "alice", f"wrong {attempt}", client=None, now=T0)
        with pytest.raises(LoginRateLimited):
            operators.log_in(session, "alice", PASSWORD, client=None, now=T0)
        later = T0 + operators.FAILURE_WINDOW + timedelta(seconds=1)
        assert operators.log_in(session, "alice", PASSWORD, client=None, now=later).token
        with pytest.raises(LoginFailed):
            operators.log_in(session, "nobody", PASSWORD, client=None, now=later)
