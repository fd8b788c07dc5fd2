"""The Tencent Cloud FaceID adapter: the provider protocol over the official SDK.

Built on ``tencentcloud-sdk-python``'s ``FaceidClient`` (API 2018-03-01, TC3-HMAC-SHA256
signatures, JSON POST). The SDK is synchronous, so each call runs in a worker thread
under a per-call deadline; the SDK's own socket timeout is the same, so an
abandoned thread ends soon after. Nothing is retried here: a call that gets no
answer raises :class:`~realname.authorities.errors.ProviderUnavailable` and the
verification engine decides.

What each call ends in:

- a documented ``Result`` → an answer (:mod:`.responses`, through
  :mod:`realname.authorities.codes`), with the cost from ``prices_fen`` when the code
  is billable, the latency measured around the call and Tencent's ``RequestId``;
- busy / service-exception / daily-limit codes, ``RequestLimitExceeded``,
  ``InternalError``, HTTP errors, network errors → ``ProviderUnavailable`` with the
  reason; a deadline passed → ``ProviderUnavailable(timeout)``;
- ``AuthFailure.*`` → :class:`.TencentCloudAuthError`; parameter errors →
  :class:`.TencentCloudRequestRejected`;
- checks Tencent has no API for → :class:`.CheckNotOffered`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import anyio
import anyio.to_thread
from requests import exceptions as requests_errors
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.faceid.v20180301 import faceid_client, models

from realname.authorities.errors import ProviderUnavailable, UnavailableReason
from realname.authorities.protocol import (
    BankCardAnswer,
    Carrier,
    CarrierLookupAnswer,
    CarrierThreeElementAnswer,
    Check,
    FaceCapture,
    FaceCompareAnswer,
    FaceLivenessAnswer,
    IdTwoElementAnswer,
    IdValidityAnswer,
    PhoneRecycledAnswer,
    PhoneStatusAnswer,
    PhoneTenureAnswer,
    SimSwapAnswer,
)
from realname.authorities.tencentcloud import responses
from realname.authorities.tencentcloud.errors import (
    CheckNotOffered,
    TencentCloudAuthError,
    TencentCloudRequestRejected,
)
from realname.authorities.tencentcloud.settings import TencentCloudSettings

#: Mainland China time (no daylight saving): the day a check is made, for expiry.
CHINA_TIME = timezone(timedelta(hours=8))
#: ``CheckIdNameDate.ValidityEnd`` of a long-term (长期) card.
LONG_TERM = "00000000"


def china_today() -> date:
    return datetime.now(UTC).astimezone(CHINA_TIME).date()


def _timed_out(error: BaseException) -> bool:
    """Whether an SDK network error was caused by a socket or HTTP timeout."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, requests_errors.Timeout | TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class TencentCloudProvider:
    """Tencent Cloud FaceID as a :class:`~realname.authorities.protocol.Provider`.

    ``headers`` are extra HTTP headers sent with every request (the HTTP sandbox
    reads ``X-Sandbox-World``); ``today`` is the clock for ID-card expiry (China
    time by default).
    """

    name = "tencentcloud"
    #: The checks Tencent Cloud FaceID answers through this adapter.
    offered = frozenset(
        {
            Check.ID_TWO_ELEMENT,
            Check.ID_VALIDITY,
            Check.CARRIER_THREE_ELEMENT,
            Check.PHONE_STATUS,
            Check.PHONE_TENURE,
            Check.BANK_CARD_FOUR_ELEMENT,
        }
    )

    def __init__(
        self,
        settings: TencentCloudSettings | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        today: Callable[[], date] = china_today,
    ) -> None:
        self.settings = settings if settings is not None else TencentCloudSettings()
        secret_key = self.settings.secret_key.get_secret_value()
        if not self.settings.secret_id or not secret_key:
            raise TencentCloudAuthError(
                "REALNAME_TENCENT_SECRET_ID and REALNAME_TENCENT_SECRET_KEY must be set."
            )
        try:
            self._credential = credential.Credential(self.settings.secret_id, secret_key)
        except TencentCloudSDKException:
            raise TencentCloudAuthError("The Tencent Cloud credentials are malformed.") from None
        self.headers = dict(headers or {})
        self.today = today
        self._local = threading.local()

    # ------------------------------------------------------------------- plumbing

    def _client(self) -> Any:
        """This thread's SDK client (each has its own HTTP session)."""
        client = getattr(self._local, "client", None)
        if client is None:
            http = HttpProfile(
                protocol=self.settings.scheme,
                endpoint=self.settings.host,
                reqTimeout=self.settings.timeout_seconds,
                keepAlive=True,
            )
            client = faceid_client.FaceidClient(
                self._credential, self.settings.region, ClientProfile(httpProfile=http)
            )
            self._local.client = client
        return client

    def _invoke(self, action: str, request: Any) -> dict[str, Any]:
        response = getattr(self._client(), action)(request)
        fields: dict[str, Any] = json.loads(response.to_json_string())
        return fields

    async def _call(self, check: Check, action: str, request: Any) -> tuple[dict[str, Any], int]:
        """Run one SDK call in a thread; returns (response fields, latency in ms)."""
        if self.headers:
            request.headers = dict(self.headers)
        started = time.perf_counter()
        try:
            with anyio.fail_after(self.settings.timeout_seconds):
                fields = await anyio.to_thread.run_sync(
                    self._invoke, action, request, abandon_on_cancel=True
                )
        except TimeoutError:
            raise ProviderUnavailable(
                check, UnavailableReason.TIMEOUT, provider=self.name
            ) from None
        except TencentCloudSDKException as error:
            raise self._sdk_error(check, error) from None
        return fields, round((time.perf_counter() - started) * 1000)

    def _sdk_error(self, check: Check, error: TencentCloudSDKException) -> Exception:
        code = str(error.code or "")
        request_id = error.requestId or None
        if code == "ClientNetworkError":
            reason = (
                UnavailableReason.TIMEOUT if _timed_out(error) else UnavailableReason.SERVER_ERROR
            )
            return ProviderUnavailable(check, reason, provider=self.name)
        if code == "ServerNetworkError":
            # An HTTP status other than 200 (a gateway 5xx): no API answer.
            return ProviderUnavailable(check, UnavailableReason.SERVER_ERROR, provider=self.name)
        return responses.error_for(check, code, error.message, request_id, provider=self.name)

    def _meta(self, check: Check, latency_ms: int) -> responses.Call:
        return responses.Call(self.name, latency_ms, self.settings.prices_fen.get(check, 0))

    # -------------------------------------------------------------------- checks

    async def id_two_element(self, name: str, id_number: str) -> IdTwoElementAnswer:
        request = models.IdCardVerificationRequest()
        request.IdCard = id_number
        request.Name = name
        fields, latency = await self._call(Check.ID_TWO_ELEMENT, "IdCardVerification", request)
        return responses.read_id_two_element(fields, self._meta(Check.ID_TWO_ELEMENT, latency))

    async def id_validity(
        self,
        name: str,
        id_number: str,
        *,
        valid_from: date | None = None,
        valid_until: date | None = None,
    ) -> IdValidityAnswer:
        """``CheckIdNameDate``; Tencent needs the card's dates (``valid_until=None``: 长期)."""
        if valid_from is None:
            raise TencentCloudRequestRejected(
                Check.ID_VALIDITY,
                "CheckIdNameDate needs the card's validity dates (read from the card).",
            )
        request = models.CheckIdNameDateRequest()
        request.Name = name
        request.IdCard = id_number
        request.ValidityBegin = valid_from.strftime("%Y%m%d")
        request.ValidityEnd = LONG_TERM if valid_until is None else valid_until.strftime("%Y%m%d")
        fields, latency = await self._call(Check.ID_VALIDITY, "CheckIdNameDate", request)
        return responses.read_id_validity(
            fields,
            self._meta(Check.ID_VALIDITY, latency),
            valid_until=valid_until,
            today=self.today(),
        )

    async def carrier_three_element(
        self, name: str, id_number: str, phone: str, *, carrier: Carrier | None = None
    ) -> CarrierThreeElementAnswer:
        """``PhoneVerification`` 详版; Tencent routes by itself, so ``carrier`` is unused."""
        request = models.PhoneVerificationRequest()
        request.IdCard = id_number
        request.Name = name
        request.Phone = phone
        request.VerifyMode = "1"
        fields, latency = await self._call(
            Check.CARRIER_THREE_ELEMENT, "PhoneVerification", request
        )
        return responses.read_carrier_three_element(
            fields, self._meta(Check.CARRIER_THREE_ELEMENT, latency)
        )

    async def phone_status(self, phone: str) -> PhoneStatusAnswer:
        request = models.MobileStatusRequest()
        request.Mobile = phone
        fields, latency = await self._call(Check.PHONE_STATUS, "MobileStatus", request)
        return responses.read_phone_status(fields, self._meta(Check.PHONE_STATUS, latency))

    async def phone_tenure(self, phone: str) -> PhoneTenureAnswer:
        request = models.MobileNetworkTimeVerificationRequest()
        request.Mobile = phone
        fields, latency = await self._call(
            Check.PHONE_TENURE, "MobileNetworkTimeVerification", request
        )
        return responses.read_phone_tenure(fields, self._meta(Check.PHONE_TENURE, latency))

    async def bank_card_four_element(
        self, name: str, id_number: str, card_number: str, phone: str
    ) -> BankCardAnswer:
        request = models.BankCard4EVerificationRequest()
        request.Name = name
        request.BankCard = card_number
        request.Phone = phone
        request.IdCard = id_number
        request.CertType = 0
        fields, latency = await self._call(
            Check.BANK_CARD_FOUR_ELEMENT, "BankCard4EVerification", request
        )
        return responses.read_bank_card(fields, self._meta(Check.BANK_CARD_FOUR_ELEMENT, latency))

    # ---------------------------------------------------------- not offered here

    async def carrier_lookup(self, phone: str) -> CarrierLookupAnswer:
        """Tencent Cloud has no carrier-lookup API (Alibaba's 号码百科 has)."""
        raise CheckNotOffered(Check.CARRIER_LOOKUP, provider=self.name)

    async def phone_recycled(self, phone: str, registered_on: date) -> PhoneRecycledAnswer:
        """Tencent Cloud has no re-issued-number API (Alibaba's 二次放号核验 has)."""
        raise CheckNotOffered(Check.PHONE_RECYCLED, provider=self.name)

    async def sim_swap(self, phone: str, max_age_days: int = 30) -> SimSwapAnswer:
        """Tencent Cloud has no SIM-swap API (the carriers' CAMARA gateways have)."""
        raise CheckNotOffered(Check.SIM_SWAP, provider=self.name)

    async def face_liveness(self, capture: FaceCapture) -> FaceLivenessAnswer:
        """Not implemented yet: the current SDK no longer has the ``Liveness`` action."""
        raise CheckNotOffered(Check.FACE_LIVENESS, provider=self.name)

    async def face_compare(
        self, name: str, id_number: str, capture: FaceCapture
    ) -> FaceCompareAnswer:
        """Not implemented yet (``LivenessRecognition`` needs the sandbox face engine)."""
        raise CheckNotOffered(Check.FACE_COMPARE, provider=self.name)
