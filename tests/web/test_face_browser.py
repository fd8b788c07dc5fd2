"""The face check page in a real browser with a fake camera.

Chromium plays a ``.y4m`` file as its camera (``--use-file-for-fake-video-capture``).
The test builds that file from the project's images: landmark-driven synthetic
frames of the person doing the challenged actions (``portraits.live_sequence``), or
a portrait moved as a flat print (``replay_sequence``), each held for one prompt
step of the page. The challenge's action order is fixed for the test by replacing
:data:`realname.verification.face_sessions.new_challenge`, so the film can be made
before the browser starts. Screenshots go to ``REALNAME_ARTIFACTS``.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from realname.accounts import service as accounts
from realname.api.app import create_app
from realname.api.context import AppContext
from realname.authorities.face import (
    Action,
    Challenge,
    LocalFaceEngine,
    live_sequence,
    replay_sequence,
)
from realname.authorities.face.images import RGBImage
from realname.authorities.sandbox import SandboxProvider, parse_fixture
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings
from realname.store.db import upgrade
from realname.verification import face_sessions, users
from realname.web.borrower import SESSION_COOKIE, web_tenant_id
from realname.web.face import STEP_MS
from tests.web.browser_support import ARTIFACTS, CHROMIUM, FLAGS, NEEDS_CHROMIUM, serving

pytestmark = NEEDS_CHROMIUM

FIXTURE = parse_fixture(
    """
today: 2026-12-01
scenarios:
  - id: face-browser
    registry:
      citizens:
        - {ref: a, name: 王小明, id_number: "110105199003071239", valid_until: 2031-05-01,
           portrait: p1}
        - {ref: b, name: 李秀英, id_number: "31010419650412245X", valid_until: 2031-01-01,
           portrait: p1}
        - {ref: c, name: 张伟, id_number: "110105198806150112", valid_until: 2031-01-01,
           portrait: p1}
      phones:
        - {number: "13912345678", carrier: cmcc, owner: a, status: normal, owner_since: 2020-09-15}
        - {number: "13812345678", carrier: cmcc, owner: b, status: normal, owner_since: 2020-09-15}
        - {number: "13712345678", carrier: cmcc, owner: c, status: normal, owner_since: 2020-09-15}
    submit: {name: 王小明, id_number: "110105199003071239", phone: "13912345678"}
    product_level: L2
    expect: {level: L2, causes: []}
""",
    file="inline",
)
PEOPLE = {
    "a": ("王小明", "110105199003071239", "13912345678"),
    "b": ("李秀英", "31010419650412245X", "13812345678"),
    "c": ("张伟", "110105198806150112", "13712345678"),
}
ACTIONS = (Action.BLINK, Action.TURN_LEFT, Action.OPEN_MOUTH)
FPS = 5


def write_y4m(path: Path, segments: Sequence[tuple[RGBImage, float]], fps: int = FPS) -> Path:
    """A YUV4MPEG2 (4:2:0, BT.601 limited range) film: each image held for its seconds."""
    height, width = segments[0][0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for image, seconds in segments:
            rgb = image.astype(np.float64) / 255.0
            r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
            y = 16 + 65.481 * r + 128.553 * g + 24.966 * b
            cb = 128 - 37.797 * r - 74.203 * g + 112.0 * b
            cr = 128 + 112.0 * r - 93.786 * g - 18.214 * b

            def half(plane: np.ndarray) -> np.ndarray:
                return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

            planes = b"".join(
                np.clip(np.rint(p), 0, 255).astype(np.uint8).tobytes()
                for p in (y, half(cb), half(cr))
            )
            for _ in range(round(seconds * fps)):
                out.write(b"FRAME\n" + planes)
    return path


def film(frames: Sequence[RGBImage]) -> list[tuple[RGBImage, float]]:
    """One frame per prompt step of the page, then the last one held a while."""
    step = STEP_MS / 1000
    return [(frame, step) for frame in frames[:-1]] + [(frames[-1], 4 * step)]


def live_film(ref: str) -> list[tuple[RGBImage, float]]:
    # live_sequence: still, then each action followed by a still; keep still + actions.
    frames = live_sequence(ref, ACTIONS)
    return film([frames[0], *frames[1::2], frames[0]])


@dataclass
class Server:
    url: str
    context: AppContext
    gateway: SandboxSmsGateway


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("face-browser")
    settings = Settings(var_dir=directory, database_url=f"sqlite:///{directory / 'web.db'}")
    upgrade(settings.resolved_database_url)
    scenario = FIXTURE.scenarios[0]
    provider = SandboxProvider.for_scenario(scenario, today=FIXTURE.today_for(scenario))
    provider.face_engine = LocalFaceEngine()
    gateway = SandboxSmsGateway(provider.store, provider.world_id)
    context = AppContext.from_settings(settings, provider=provider, sms=gateway)
    with serving(create_app(settings, context)) as url:
        yield Server(url, context, gateway)
    context.engine.dispose()


def borrower_at_l2(server: Server, person: str, *, face_consent: bool) -> str:
    """Sign a borrower in (as the sign-in page does) and verify them to L2; the token."""
    name, id_number, phone = PEOPLE[person]
    context = server.context
    now = datetime.now(UTC)
    with context.session_factory() as session:
        tenant = web_tenant_id(session)
        started = asyncio.run(
            accounts.start_signup_or_login(
                session, context.vault, context.sms, tenant, phone, now=now
            )
        )
        session.commit()
        code = re.search(r"\d{6}", server.gateway.messages_to(phone)[-1].text)
        assert code is not None
        signed = accounts.complete(
            session,
            context.vault,
            tenant_id=tenant,
            phone=phone,
            challenge_id=started.challenge_id,
            code=code[0],
            now=now,
        )
        users.give_consents(
            session, signed.account, ["id", "phone", *(["face"] if face_consent else [])], now
        )
        submitted = asyncio.run(
            users.submit(
                session,
                context.vault,
                context.provider,
                signed.account,
                name=name,
                id_number=id_number,
                phone=phone,
                bank_card=None,
                policy=context.policies.product("default"),
                now=now,
            )
        )
        assert str(submitted.outcome.diagnosis.level) == "L2"
        session.commit()
        return signed.session_token


@pytest.fixture
def fixed_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    def issue(now: datetime, ttl: timedelta) -> Challenge:
        return Challenge(
            nonce=secrets.token_urlsafe(18), actions=ACTIONS, issued_at=now, expires_at=now + ttl
        )

    monkeypatch.setattr(face_sessions, "new_challenge", issue)


def run_page(
    server: Server,
    token: str,
    camera: Path,
    *,
    width: int,
    height: int,
    name: str,
    lang: str = "zh-CN",
    consent_first: bool = False,
) -> dict[str, str]:
    """Open /face with ``camera`` as the webcam, perform the check; what the page shows."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None
    args = [
        *FLAGS,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={camera}",
    ]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": server.url}])
            page = context.new_page()
            page.goto(f"{server.url}/face?lang={lang}")
            if consent_first:
                assert page.locator("#face-consent").is_visible()
                page.screenshot(path=str(ARTIFACTS / f"face-consent-{width}.png"), full_page=True)
                page.click("#face-consent-agree")
                page.wait_for_selector("#face-start")
            assert page.evaluate("document.scrollingElement.scrollWidth") <= width
            page.click("#face-start")
            page.wait_for_function(
                "document.getElementById('face-prompt').textContent.length > 0"
                " && document.getElementById('face-step').textContent.length > 0"
            )
            page.screenshot(path=str(ARTIFACTS / f"face-{name}-prompt-{width}.png"))
            page.wait_for_selector(
                "#face-result:not([hidden]), #face-error:not([hidden])", timeout=120_000
            )
            assert page.evaluate("document.scrollingElement.scrollWidth") <= width
            page.screenshot(path=str(ARTIFACTS / f"face-{name}-{width}.png"), full_page=True)
            shown = {
                "error": page.locator("#face-error").inner_text()
                if page.locator("#face-error").is_visible()
                else "",
                "verdict": page.locator("#face-verdict").inner_text(),
                "level": page.locator("#face-level").inner_text(),
                "causes": " ".join(
                    page.locator("#face-causes article").evaluate_all(
                        "items => items.map(item => item.id)"
                    )
                ),
            }
            if shown["causes"]:
                shown["help"] = page.locator("#face-causes a").first.get_attribute("href") or ""
            return shown
        finally:
            browser.close()


def test_a_live_capture_of_the_right_person_passes(
    server: Server, fixed_actions: None, tmp_path: Path
) -> None:
    token = borrower_at_l2(server, "a", face_consent=False)
    camera = write_y4m(tmp_path / "live-p1.y4m", live_film("p1"))
    shown = run_page(server, token, camera, width=375, height=812, name="live", consent_first=True)
    assert shown["error"] == ""
    assert shown["verdict"] == "人脸核身通过", shown
    assert shown["level"] == "已达到 L3。"


def test_a_flat_photo_held_to_the_camera_fails_liveness(
    server: Server, fixed_actions: None, tmp_path: Path
) -> None:
    token = borrower_at_l2(server, "b", face_consent=True)
    camera = write_y4m(tmp_path / "replay-p1.y4m", film(replay_sequence("p1")))
    shown = run_page(server, token, camera, width=1280, height=800, name="replay", lang="en")
    assert shown["verdict"] == "Face check did not pass", shown
    assert shown["causes"] == "face-cause-FACE_LIVENESS_FAILED"
    assert shown["help"] == "/help/FACE_LIVENESS_FAILED?lang=en"


def test_someone_else_is_a_face_mismatch(
    server: Server, fixed_actions: None, tmp_path: Path
) -> None:
    token = borrower_at_l2(server, "c", face_consent=True)
    camera = write_y4m(tmp_path / "live-p2.y4m", live_film("p2"))
    shown = run_page(server, token, camera, width=1280, height=800, name="mismatch")
    assert shown["verdict"] == "人脸核身未通过", shown
    assert shown["causes"] == "face-cause-FACE_MISMATCH"
