"""Tencent Cloud FaceID (API 2018-03-01), the first real authority adapter.

Configuration only switches it on (``REALNAME_PROVIDER=tencentcloud``, see
:func:`realname.authorities.composite.build_provider`)::

    provider = TencentCloudProvider(TencentCloudSettings())   # REALNAME_TENCENT_*
    answer = await provider.carrier_three_element(name, id_number, phone)

It answers ID two-element (``IdCardVerification``), ID validity
(``CheckIdNameDate``), carrier three-element (``PhoneVerification``, 详版), phone
status (``MobileStatus``), tenure (``MobileNetworkTimeVerification``) and bank-card
four-element (``BankCard4EVerification``); the other checks raise
:class:`CheckNotOffered`. Encrypted requests (``Encryption``) are not used.
"""

from __future__ import annotations

from realname.authorities.tencentcloud.errors import (
    CheckNotOffered,
    TencentCloudAuthError,
    TencentCloudRequestRejected,
)
from realname.authorities.tencentcloud.provider import TencentCloudProvider, china_today
from realname.authorities.tencentcloud.settings import TencentCloudSettings

__all__ = [
    "CheckNotOffered",
    "TencentCloudAuthError",
    "TencentCloudProvider",
    "TencentCloudRequestRejected",
    "TencentCloudSettings",
    "china_today",
]
