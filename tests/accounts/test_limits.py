"""Attempt limits: the pure sliding-window rule, and the shared counters in the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from realname.accounts import limits
from realname.accounts.errors import AttemptsLocked
from realname.accounts.limits import AttemptPolicy, KeyKind, Outcome, Rule
from realname.store.models import AttemptEvent
from realname.store.repositories import tenants
from tests.accounts.conftest import PHONE_A, T0, VAULT

ID_1 = "110105199003071239"
ID_2 = "11010519700101803X"
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
#: Two failures per ID number in any hour: small enough to see the window slide.
TWO_PER_HOUR = AttemptPolicy(id_number=Rule(2, HOUR))

Sessions = sessionmaker[Session]


# --- the pure rule ----------------------------------------------------------------------


def test_lock_end_slides_with_the_oldest_failure() -> None:
    rule = Rule(2, HOUR)
    failures = [T0, T0 + 59 * MINUTE]
    assert limits.lock_end(failures[:1], T0 + 59 * MINUTE, rule) is None
    assert limits.lock_end(failures, T0 + 59 * MINUTE, rule) == T0 + HOUR
    assert limits.lock_end(failures, T0 + HOUR - timedelta(microseconds=1), rule) == T0 + HOUR
    assert limits.lock_end(failures, T0 + HOUR, rule) is None
    assert limits.remaining(failures, T0 + HOUR, rule) == 1
    # A third failure at t+60 min locks again, until the second leaves the window.
    assert limits.lock_end([*failures, T0 + HOUR], T0 + HOUR, rule) == T0 + 119 * MINUTE


def test_rules_must_allow_something() -> None:
    with pytest.raises(ValueError, match="max_failures"):
        Rule(0, HOUR)
    with pytest.raises(ValueError, match="window"):
        Rule(1, timedelta(0))


def test_default_policy() -> None:
    policy = limits.DEFAULT_POLICY
    assert [(policy.rule(k).max_failures, policy.rule(k).window) for k in KeyKind] == [
        (5, HOUR),
        (10, HOUR),
        (20, HOUR),
        (50, HOUR),
    ]
    assert policy.longest_window == HOUR


@given(
    st.lists(st.integers(min_value=0, max_value=7200), max_size=20),
    st.integers(min_value=1, max_value=5),
)
def test_the_lock_ends_exactly_when_it_says(offsets: list[int], max_failures: int) -> None:
    rule = Rule(max_failures, HOUR)
    now = T0 + timedelta(seconds=7200)
    failures = [T0 + timedelta(seconds=s) for s in offsets]
    end = limits.lock_end(failures, now, rule)
    counted = len(limits.in_window(failures, now, rule))
    assert (end is None) == (counted < max_failures)
    if end is not None:
        assert end > now
        assert limits.lock_end(failures, end, rule) is None
        assert limits.lock_end(failures, end - timedelta(microseconds=1), rule) is not None


# --- keys -----------------------------------------------------------------------------


def test_keys_hold_no_values_and_canonicalise_them() -> None:
    keys = limits.attempt_keys(
        VAULT, "t", id_number=ID_1, phone=PHONE_A, device_id="device-42", ip="203.0.113.7"
    )
    assert [k.kind for k in keys] == list(KeyKind)
    for key, value in zip(keys, (ID_1, PHONE_A, "device-42", "203.0.113.7"), strict=True):
        assert len(key.digest) == 64
        assert value not in key.digest
        assert value not in repr(key)
    assert keys[0].digest == VAULT.blind_index("id_number", ID_1)
    assert keys[1].digest == VAULT.blind_index("phone", PHONE_A)

    def digest(**values: str) -> str:
        (key,) = limits.attempt_keys(VAULT, "t", **values)
        return key.digest

    assert digest(phone="+86 139-1234-5678") == keys[1].digest
    assert digest(id_number="11010519700101803x") == digest(id_number=ID_2)
    assert digest(ip="::ffff:203.0.113.7") == keys[3].digest
    # One IPv6 subscriber holds a /64: addresses inside it share a key.
    assert digest(ip="2001:db8:1:2::1") == digest(ip="2001:db8:1:2:ffff::9")
    assert digest(ip="2001:db8:1:2::1") != digest(ip="2001:db8:1:3::1")
    # A device id and an IP address with the same text get different keys.
    assert digest(device_id="203.0.113.7") != keys[3].digest
    assert limits.attempt_keys(VAULT, "t", phone="  ", device_id="") == ()


# --- shared counters -------------------------------------------------------------------


@pytest.fixture
def keys(tenant_id: str) -> tuple[limits.AttemptKey, ...]:
    return limits.attempt_keys(VAULT, tenant_id, id_number=ID_1, ip="203.0.113.7")


def fail(
    sessions: Sessions,
    keys: tuple[limits.AttemptKey, ...],
    at: timedelta,
    policy: AttemptPolicy = TWO_PER_HOUR,
) -> limits.Allowed:
    with sessions.begin() as session:
        return limits.check_and_record(
            session, keys, T0 + at, outcome=Outcome.FAILURE, policy=policy
        )


def check(sessions: Sessions, keys: tuple[limits.AttemptKey, ...], at: timedelta) -> limits.Allowed:
    with sessions() as session:
        return limits.check(session, keys, now=T0 + at, policy=TWO_PER_HOUR)


@pytest.mark.storage
def test_sliding_window(session_factory: Sessions, keys: tuple[limits.AttemptKey, ...]) -> None:
    assert fail(session_factory, keys, timedelta(0)) == limits.Allowed(remaining=1)
    assert fail(session_factory, keys, 59 * MINUTE) == limits.Allowed(remaining=0)
    with pytest.raises(AttemptsLocked) as caught:
        check(session_factory, keys, 59 * MINUTE + timedelta(seconds=30))
    locked = caught.value
    assert (locked.code, locked.http_status, locked.until, locked.scope) == (
        "ATTEMPTS_LOCKED",
        429,
        T0 + HOUR,
        "id_number",
    )
    assert locked.details == {
        "until": (T0 + HOUR).isoformat(),
        "retry_after": 30,
        "scope": "id_number",
    }
    # A refused attempt is not recorded.
    with pytest.raises(AttemptsLocked):
        fail(session_factory, keys, 59 * MINUTE + timedelta(seconds=30))
    # The first failure leaves the window at t+60 min: one more attempt is allowed ...
    assert check(session_factory, keys, HOUR) == limits.Allowed(remaining=1)
    assert fail(session_factory, keys, HOUR) == limits.Allowed(remaining=0)
    # ... after which the lock lasts until the t+59 min failure leaves too.
    with session_factory() as session:
        assert limits.locked_until(session, keys, now=T0 + HOUR, policy=TWO_PER_HOUR) == (
            T0 + 119 * MINUTE,
            KeyKind.ID_NUMBER,
        )


@pytest.mark.storage
def test_a_key_named_twice_counts_its_failures_once(
    session_factory: Sessions, keys: tuple[limits.AttemptKey, ...]
) -> None:
    fail(session_factory, keys, timedelta(0))
    twice = (*keys, keys[0])
    assert check(session_factory, twice, MINUTE) == limits.Allowed(remaining=1)
    with session_factory() as session:
        assert limits.locked_until(session, twice, now=T0 + MINUTE, policy=TWO_PER_HOUR) is None


@pytest.mark.storage
def test_default_limit_per_id_number(session_factory: Sessions, tenant_id: str) -> None:
    (key,) = limits.attempt_keys(VAULT, tenant_id, id_number=ID_1)
    for minute in range(5):
        fail(session_factory, (key,), minute * MINUTE, limits.DEFAULT_POLICY)
    with pytest.raises(AttemptsLocked) as caught:
        fail(session_factory, (key,), 5 * MINUTE, limits.DEFAULT_POLICY)
    assert caught.value.until == T0 + HOUR


@pytest.mark.storage
def test_keys_are_independent(
    session_factory: Sessions, tenant_id: str, keys: tuple[limits.AttemptKey, ...]
) -> None:
    fail(session_factory, keys, timedelta(0))
    fail(session_factory, keys, MINUTE)
    # The same IP with another ID number is not locked (the IP allows 50 failures) ...
    other_id = limits.attempt_keys(VAULT, tenant_id, id_number=ID_2, ip="203.0.113.7")
    assert check(session_factory, other_id, 2 * MINUTE) == limits.Allowed(remaining=2)
    # ... nor is the locked ID number at another lender.
    with session_factory.begin() as session:
        other_tenant = tenants.create_tenant(session, "other lender").id
    elsewhere = limits.attempt_keys(VAULT, other_tenant, id_number=ID_1)
    assert check(session_factory, elsewhere, 2 * MINUTE) == limits.Allowed(remaining=2)
    # An IP locks by itself, whatever ID number comes with it.
    three_per_ip = AttemptPolicy(ip=Rule(3, HOUR))
    fail(session_factory, other_id, 3 * MINUTE, three_per_ip)
    with pytest.raises(AttemptsLocked) as caught:
        fail(session_factory, other_id, 4 * MINUTE, three_per_ip)
    assert caught.value.scope == "ip"


@pytest.mark.storage
def test_successes_are_recorded_but_not_counted(
    session_factory: Sessions, keys: tuple[limits.AttemptKey, ...]
) -> None:
    for second in range(5):
        with session_factory.begin() as session:
            limits.check_and_record(
                session,
                keys,
                T0 + timedelta(seconds=second),
                outcome=Outcome.SUCCESS,
                policy=TWO_PER_HOUR,
            )
    assert check(session_factory, keys, MINUTE) == limits.Allowed(remaining=2)
    fail(session_factory, keys, 2 * MINUTE)
    # A success does not forgive earlier failures.
    with session_factory.begin() as session:
        limits.record(session, keys, Outcome.SUCCESS, now=T0 + 3 * MINUTE)
    assert check(session_factory, keys, 4 * MINUTE) == limits.Allowed(remaining=1)
    with session_factory() as session:
        outcomes = session.scalars(select(AttemptEvent.outcome)).all()
    assert sorted(outcomes) == ["failure"] * 2 + ["success"] * 12


@pytest.mark.storage
def test_old_events_are_pruned_and_no_value_is_stored(
    session_factory: Sessions, engine: Engine, keys: tuple[limits.AttemptKey, ...]
) -> None:
    fail(session_factory, keys, timedelta(0))
    fail(session_factory, keys, 2 * HOUR)  # kept a day: the risk gate counts per day
    with session_factory() as session:
        assert len(session.scalars(select(AttemptEvent.at)).all()) == 4
    fail(session_factory, keys, 25 * HOUR)  # recording prunes what is older than a day
    with session_factory() as session:
        assert sorted(session.scalars(select(AttemptEvent.at))) == [T0 + 2 * HOUR] * 2 + [
            T0 + 25 * HOUR
        ] * 2
    with engine.connect() as connection:
        dump = " ".join(
            str(v) for row in connection.execute(text("SELECT * FROM attempt_events")) for v in row
        )
    assert ID_1 not in dump
    assert "203.0.113.7" not in dump
    with session_factory.begin() as session:
        assert limits.prune(session, before=T0 + 3 * HOUR) == 2
        assert limits.retention() == timedelta(days=1)
