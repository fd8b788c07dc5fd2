"""The store's worlds and transactions; tenure ranges; carrier names."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from realname.authorities.errors import SandboxWorldMissing
from realname.authorities.protocol import Carrier, TenureBucket, parse_tenure_range
from realname.authorities.sandbox import SandboxProvider, SandboxStore


def test_worlds_are_separate_and_replaceable(tmp_path: Path) -> None:
    with SandboxStore(tmp_path / "s.db") as store:
        with store.transaction():
            one = store.create_world("one", kind="fixture")
            store.insert_citizens(one, [(1, "a", "王小明", "110105199003071239", None, None)])
            two = store.create_world("two", kind="fixture", today=date(2026, 1, 1))
            store.insert_citizens(two, [(1, "a", "李四", "110105199003071239", None, None)])
        first = store.citizen_by_id_number(one, "110105199003071239")
        second = store.citizen_by_id_number(two, "110105199003071239")
        assert first is not None
        assert second is not None
        assert (first.name, second.name) == ("王小明", "李四")
        with store.transaction():
            store.create_world("one", kind="fixture")
        assert store.citizen_by_id_number(store.world_id("one"), "110105199003071239") is None
        with store.transaction():
            store.drop_world("two")
        assert [w.name for w in store.worlds()] == ["one"]
        with pytest.raises(SandboxWorldMissing):
            store.world_id("two")
        with pytest.raises(SandboxWorldMissing):
            SandboxProvider(store, "two")


def test_writes_need_a_transaction_and_transactions_do_not_nest() -> None:
    store = SandboxStore()
    with pytest.raises(RuntimeError):
        store.create_world("w", kind="fixture")
    with store.transaction(), pytest.raises(RuntimeError), store.transaction():
        pass


def test_a_failed_transaction_writes_nothing() -> None:
    store = SandboxStore()

    def fail_midway() -> None:
        with store.transaction():
            store.create_world("w", kind="fixture")
            raise LookupError("boom")

    with pytest.raises(LookupError, match="boom"):
        fail_midway()
    assert store.worlds() == []


def test_bulk_transactions_restore_the_journal(tmp_path: Path) -> None:
    with SandboxStore(tmp_path / "s.db") as store:
        with store.transaction(bulk=True):
            store.create_world("w", kind="generated")
        assert store.query("PRAGMA journal_mode")[0][0] == "wal"


@pytest.mark.parametrize(
    ("months", "bucket"),
    [
        (0, TenureBucket.UNDER_3),
        (2, TenureBucket.UNDER_3),
        (3, TenureBucket.FROM_3_TO_6),
        (5, TenureBucket.FROM_3_TO_6),
        (6, TenureBucket.FROM_6_TO_12),
        (11, TenureBucket.FROM_6_TO_12),
        (12, TenureBucket.FROM_12_TO_24),
        (23, TenureBucket.FROM_12_TO_24),
        (24, TenureBucket.OVER_24),
        (400, TenureBucket.OVER_24),
    ],
)
def test_tenure_buckets(months: int, bucket: TenureBucket) -> None:
    assert TenureBucket.for_months(months) is bucket


def test_tenure_ranges_parse_like_tencents() -> None:
    assert parse_tenure_range("[24,+)") == (24, None)
    assert parse_tenure_range("[23,+)") == (23, None)
    assert parse_tenure_range("[6,12)") == (6, 12)
    assert TenureBucket.OVER_24.max_months is None
    for bad in ("", "[6,12]", "(6,12)", "[12,6)", "[-1,3)", "[a,3)"):
        with pytest.raises(ValueError, match="tenure range"):
            parse_tenure_range(bad)
    with pytest.raises(ValueError, match="negative"):
        TenureBucket.for_months(-1)


def test_carrier_names() -> None:
    assert Carrier.CMCC.isp_name == "移动"
    assert Carrier.from_isp_name("中国联通") is Carrier.CUCC
    assert Carrier.from_isp_name("电信") is Carrier.CTCC
    assert Carrier.from_isp_name("") is None
