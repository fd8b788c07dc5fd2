"""One provider made of several: each check routed to the authority that offers it.

No single vendor answers every check: Tencent Cloud FaceID has no carrier lookup,
re-issued-number or SIM-swap API. :class:`CompositeProvider` implements the whole
:class:`~realname.authorities.protocol.Provider` protocol by sending each check to
its provider; every answer keeps the ``provider`` name of whoever actually
answered, so a diagnosis can still be traced to its source.

:func:`build_provider` makes the provider the platform uses from configuration alone
(``REALNAME_PROVIDER``; see :class:`ProviderSettings`):

- ``sandbox`` (default) — the embedded sandbox, one world of a sandbox file;
- ``tencentcloud`` — Tencent Cloud FaceID (``REALNAME_TENCENT_*``) for the checks it
  offers, and for the others the fallback ``REALNAME_PROVIDER_FALLBACK``: ``sandbox``
  (the sandbox world answers them; fine for staging, *simulated data* in
  production) or ``none`` (they raise
  :class:`~realname.authorities.tencentcloud.errors.CheckNotOffered`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from realname.authorities.protocol import (
    BankCardAnswer,
    Carrier,
    CarrierLookupAnswer,
    CarrierThreeElementAnswer,
    Check,
    FaceCapture,
    FaceCompareAnswer,
    FaceEngine,
    FaceLivenessAnswer,
    IdTwoElementAnswer,
    IdValidityAnswer,
    PhoneRecycledAnswer,
    PhoneStatusAnswer,
    PhoneTenureAnswer,
    Provider,
    SimSwapAnswer,
)

if TYPE_CHECKING:
    from realname.authorities.tencentcloud import TencentCloudSettings


class CompositeProvider:
    """Routes each check to ``overrides[check]``, or to ``default``."""

    def __init__(
        self,
        default: Provider,
        overrides: Mapping[Check, Provider] | None = None,
        *,
        name: str | None = None,
    ) -> None:
        self.default = default
        self.overrides = dict(overrides or {})
        others = sorted({p.name for p in self.overrides.values()} - {default.name})
        self.name = name or "+".join([default.name, *others])

    def provider_for(self, check: Check) -> Provider:
        """The provider that answers ``check``."""
        return self.overrides.get(check, self.default)

    async def id_two_element(self, name: str, id_number: str) -> IdTwoElementAnswer:
        return await self.provider_for(Check.ID_TWO_ELEMENT).id_two_element(name, id_number)

    async def id_validity(
        self,
        name: str,
        id_number: str,
        *,
        valid_from: date | None = None,
        valid_until: date | None = None,
    ) -> IdValidityAnswer:
        return await self.provider_for(Check.ID_VALIDITY).id_validity(
            name, id_number, valid_from=valid_from, valid_until=valid_until
        )

    async def carrier_three_element(
        self, name: str, id_number: str, phone: str, *, carrier: Carrier | None = None
    ) -> CarrierThreeElementAnswer:
        return await self.provider_for(Check.CARRIER_THREE_ELEMENT).carrier_three_element(
            name, id_number, phone, carrier=carrier
        )

    async def phone_status(self, phone: str) -> PhoneStatusAnswer:
        return await self.provider_for(Check.PHONE_STATUS).phone_status(phone)

    async def phone_tenure(self, phone: str) -> PhoneTenureAnswer:
        return await self.provider_for(Check.PHONE_TENURE).phone_tenure(phone)

    async def carrier_lookup(self, phone: str) -> CarrierLookupAnswer:
        return await self.provider_for(Check.CARRIER_LOOKUP).carrier_lookup(phone)

    async def phone_recycled(self, phone: str, registered_on: date) -> PhoneRecycledAnswer:
        return await self.provider_for(Check.PHONE_RECYCLED).phone_recycled(phone, registered_on)

    async def sim_swap(self, phone: str, max_age_days: int = 30) -> SimSwapAnswer:
        return await self.provider_for(Check.SIM_SWAP).sim_swap(phone, max_age_days)

    async def bank_card_four_element(
        self, name: str, id_number: str, card_number: str, phone: str
    ) -> BankCardAnswer:
        return await self.provider_for(Check.BANK_CARD_FOUR_ELEMENT).bank_card_four_element(
            name, id_number, card_number, phone
        )

    async def face_liveness(self, capture: FaceCapture) -> FaceLivenessAnswer:
        return await self.provider_for(Check.FACE_LIVENESS).face_liveness(capture)

    async def face_compare(
        self, name: str, id_number: str, capture: FaceCapture
    ) -> FaceCompareAnswer:
        return await self.provider_for(Check.FACE_COMPARE).face_compare(name, id_number, capture)


class ProviderSettings(BaseSettings):
    """Which authorities to use: ``REALNAME_PROVIDER``, ``REALNAME_PROVIDER_FALLBACK``,
    ``REALNAME_SANDBOX_DB`` and ``REALNAME_SANDBOX_WORLD``."""

    model_config = SettingsConfigDict(env_prefix="REALNAME_", env_file=".env", extra="ignore")

    provider: Literal["sandbox", "tencentcloud"] = "sandbox"
    #: Who answers the checks the real provider does not offer.
    provider_fallback: Literal["sandbox", "none"] = "sandbox"
    #: The sandbox file; empty means ``<var_dir>/sandbox.db``.
    sandbox_db: Path | None = None
    #: The world of the sandbox file to answer from.
    sandbox_world: str = "generated"


def _sandbox(config: ProviderSettings, face_engine: FaceEngine | None) -> Provider:
    from realname.authorities.sandbox import SandboxProvider, SandboxStore
    from realname.config import get_settings

    path = config.sandbox_db or get_settings().var_dir / "sandbox.db"
    return SandboxProvider(SandboxStore(path), config.sandbox_world, face_engine=face_engine)


def build_provider(
    config: ProviderSettings | None = None,
    *,
    tencent: TencentCloudSettings | None = None,
    sandbox: Provider | None = None,
    face_engine: FaceEngine | None = None,
) -> Provider:
    """The provider ``config`` asks for (environment settings when ``None``).

    ``tencent`` may pass ready Tencent settings and ``sandbox`` a ready sandbox
    provider (tests do both); otherwise they are read from the environment
    (``REALNAME_TENCENT_*``) and the sandbox file.
    """
    config = config if config is not None else ProviderSettings()
    if config.provider == "sandbox":
        return sandbox if sandbox is not None else _sandbox(config, face_engine)

    # Imported here so that a sandbox-only deployment needs no Tencent SDK.
    from realname.authorities.tencentcloud import TencentCloudProvider

    real = TencentCloudProvider(tencent)
    if config.provider_fallback == "none":
        return CompositeProvider(real)
    fallback = sandbox if sandbox is not None else _sandbox(config, face_engine)
    return CompositeProvider(
        real, {check: fallback for check in Check if check not in real.offered}
    )
