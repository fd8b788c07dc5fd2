"""CompositeProvider routes each check; build_provider switches by configuration only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from realname.authorities.composite import CompositeProvider, ProviderSettings, build_provider
from realname.authorities.protocol import Check, FaceCapture, PhoneStatusOutcome, Provider
from realname.authorities.sandbox import SandboxProvider, SandboxStore, load_into_store
from realname.authorities.tencentcloud import (
    CheckNotOffered,
    TencentCloudAuthError,
    TencentCloudProvider,
    TencentCloudSettings,
)
from tests.authorities.http.support import SECRET_ID, SECRET_KEY, TODAY, RunningServer

pytestmark = pytest.mark.anyio

CAPTURE = FaceCapture(b"\xff\xd8", "image/jpeg")
#: One call per protocol method, named by the check it belongs to.
CALLS: dict[Check, Callable[[Provider], Awaitable[Any]]] = {
    Check.ID_TWO_ELEMENT: lambda p: p.id_two_element("n", "i"),
    Check.ID_VALIDITY: lambda p: p.id_validity("n", "i", valid_from=date(2020, 1, 1)),
    Check.CARRIER_THREE_ELEMENT: lambda p: p.carrier_three_element("n", "i", "p"),
    Check.PHONE_STATUS: lambda p: p.phone_status("p"),
    Check.PHONE_TENURE: lambda p: p.phone_tenure("p"),
    Check.CARRIER_LOOKUP: lambda p: p.carrier_lookup("p"),
    Check.PHONE_RECYCLED: lambda p: p.phone_recycled("p", date(2020, 1, 1)),
    Check.SIM_SWAP: lambda p: p.sim_swap("p", 7),
    Check.BANK_CARD_FOUR_ELEMENT: lambda p: p.bank_card_four_element("n", "i", "c", "p"),
    Check.FACE_LIVENESS: lambda p: p.face_liveness(CAPTURE),
    Check.FACE_COMPARE: lambda p: p.face_compare("n", "i", CAPTURE),
}


class Recorder:
    """Records which protocol method was called, with which arguments."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, method: str) -> Callable[..., Awaitable[str]]:
        async def record(*args: Any, **kwargs: Any) -> str:
            self.calls.append((method, args, kwargs))
            return self.name

        return record


@pytest.mark.parametrize("check", list(Check))
async def test_each_check_goes_to_its_provider(check: Check) -> None:
    default, special = Recorder("default"), Recorder("special")
    composite = CompositeProvider(default, {check: special})  # type: ignore[dict-item]
    for each, call in CALLS.items():
        assert await call(composite) == ("special" if each is check else "default")
    assert [method for method, _, _ in special.calls] == [check.value]
    assert len(default.calls) == len(Check) - 1
    assert composite.provider_for(check) is special


async def test_arguments_pass_through_unchanged() -> None:
    recorder = Recorder("r")
    composite = CompositeProvider(recorder)  # type: ignore[arg-type]
    await composite.id_validity("n", "i", valid_from=date(2020, 1, 1), valid_until=None)
    await composite.sim_swap("p", 7)
    assert recorder.calls == [
        ("id_validity", ("n", "i"), {"valid_from": date(2020, 1, 1), "valid_until": None}),
        ("sim_swap", ("p", 7), {}),
    ]


async def test_a_composite_of_sandboxes_is_a_provider(server: RunningServer) -> None:
    fixture = server.fixture
    normal = SandboxProvider.for_scenario(fixture.scenario("happy-l2-phone"), today=TODAY)
    suspended = SandboxProvider.for_scenario(fixture.scenario("phone-suspended"), today=TODAY)
    composite = CompositeProvider(normal, {Check.PHONE_STATUS: suspended})
    assert isinstance(composite, Provider)
    assert composite.name == "sandbox"
    status = await composite.phone_status("18612340003")
    assert status.outcome is PhoneStatusOutcome.SUSPENDED
    unknown_there = await normal.phone_status("18612340003")
    assert unknown_there.outcome is PhoneStatusOutcome.NOT_IN_NETWORK


@pytest.fixture
def sandbox_file(server: RunningServer, tmp_path: Path) -> Path:
    path = tmp_path / "sandbox.db"
    with SandboxStore(path) as store:
        load_into_store(store, server.fixture)
    return path


def _env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for key, value in values.items():
        monkeypatch.setenv(f"REALNAME_{key.upper()}", value)


async def test_switching_to_tencent_is_configuration_only(
    server: RunningServer, sandbox_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(sandbox_file.parent)  # no stray .env
    _env(monkeypatch, sandbox_db=str(sandbox_file), sandbox_world="happy-l2-phone")

    sandbox_only = build_provider()
    assert isinstance(sandbox_only, SandboxProvider)
    assert (await sandbox_only.id_two_element("王小明", "110105199003071239")).code == "0"

    _env(
        monkeypatch,
        provider="tencentcloud",
        tencent_secret_id=SECRET_ID,
        tencent_secret_key=SECRET_KEY,
        tencent_endpoint=server.url,
        tencent_region="ap-shanghai",
    )
    mixed = build_provider()
    assert isinstance(mixed, CompositeProvider)
    assert isinstance(mixed, Provider)
    assert mixed.name == "tencentcloud+sandbox"
    assert isinstance(mixed.default, TencentCloudProvider)
    assert mixed.default.settings.region == "ap-shanghai"
    answer = await mixed.id_two_element("王小明", "110105199003071239")
    assert (answer.provider, answer.code) == ("tencentcloud", "0")
    lookup = await mixed.carrier_lookup("13912345678")
    assert (lookup.provider, lookup.code) == ("sandbox", "OK")
    for check in Check:
        routed = mixed.provider_for(check)
        assert routed.name == ("tencentcloud" if check in mixed.default.offered else "sandbox")

    _env(monkeypatch, provider_fallback="none")
    tencent_only = build_provider()
    with pytest.raises(CheckNotOffered):
        await tencent_only.carrier_lookup("13912345678")


def test_tencent_without_credentials_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("SECRET_ID", "SECRET_KEY"):
        monkeypatch.delenv(f"REALNAME_TENCENT_{key}", raising=False)
    with pytest.raises(TencentCloudAuthError):
        build_provider(ProviderSettings(provider="tencentcloud", provider_fallback="none"))


@pytest.mark.parametrize(
    ("endpoint", "scheme", "host"),
    [
        ("faceid.tencentcloudapi.com", "https", "faceid.tencentcloudapi.com"),
        (
            "https://faceid.ap-shanghai.tencentcloudapi.com",
            "https",
            "faceid.ap-shanghai.tencentcloudapi.com",
        ),
        ("http://127.0.0.1:8900", "http", "127.0.0.1:8900"),
        ("http://127.0.0.1:8900/", "http", "127.0.0.1:8900"),
    ],
)
def test_endpoints(endpoint: str, scheme: str, host: str) -> None:
    settings = TencentCloudSettings(endpoint=endpoint)
    assert (settings.scheme, settings.host) == (scheme, host)


@pytest.mark.parametrize("endpoint", ["ftp://x", "http://127.0.0.1:8900/api", "http://"])
def test_bad_endpoints(endpoint: str) -> None:
    with pytest.raises(ValidationError):
        TencentCloudSettings(endpoint=endpoint)
