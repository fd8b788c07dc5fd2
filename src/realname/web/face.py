"""The borrower's face check page (人脸核身): camera, prompts, upload, result.

``GET /face`` is for a borrower signed in on the pages of :mod:`realname.web.borrower`
(same session cookie, same web tenant). It asks for the separate face consent when
it is missing, then ``static/face.js`` opens the front camera (``getUserMedia``),
starts a face session, shows each challenged action in turn under an oval face
outline, films a few frames per action and uploads them; the answer is shown with
its cause and a help link when it fails.

The JSON endpoints under ``/face/sessions`` are same-origin calls for that script:
the session cookie plus the CSRF token in ``X-CSRF-Token``. They call the same
service as the API, :mod:`realname.verification.face_sessions`. Frames pass
through memory only; they are never logged.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from realname.errors import NotFound, RealnameError
from realname.store.models import Account
from realname.store.repositories.checks import latest_result
from realname.store.types import utcnow
from realname.verification import face_sessions as faces
from realname.verification import users
from realname.verification.catalogue import Language
from realname.verification.levels import Level
from realname.web.borrower import (
    SESSION_COOKIE,
    LangQuery,
    _context,
    _csrf_ok,
    _expired_page,
    _form,
    _one,
    _render,
    _signed_in,
    _to_sign_in,
    _unit,
)

router = APIRouter(include_in_schema=False)

#: The product the page's face check works toward (the first that needs L3).
PRODUCT = "credit_large"
#: Milliseconds the page gives each prompt; face.js films inside each step.
STEP_MS = 2000

WORDS: dict[Language, dict[str, str]] = {
    "zh-CN": {
        "title": "人脸核身",
        "lead": "请按提示完成动作，我们将确认是您本人在镜头前，并与公安登记照片比对。",
        "consent_title": "需要您单独同意使用人脸信息",
        "consent_text": "人脸信息属于敏感个人信息。我们仅用它做活体检测，并与公安登记照片比对；"
        "拍摄的画面在得出结果后即删除，只保留检测数值。",
        "consent_agree": "同意并继续",
        "not_ready": "请先完成身份信息核验（L2），再进行人脸核身。",
        "to_identity": "填写身份信息",
        "start": "开始拍摄",
        "privacy": "画面只用于本次核验，不会保存。",
        "consent_kept": "人脸信息属于敏感个人信息。我们仅用它做活体检测，并与公安登记照片比对；"
        "拍摄的画面加密保存 {days} 天后删除。",
        "privacy_kept": "画面只用于本次核验，加密保存 {days} 天后删除。",
        "hold": "请正对屏幕，保持不动",
        "blink": "请眨眨眼",
        "turn_left": "请向左转头",
        "turn_right": "请向右转头",
        "open_mouth": "请张张嘴",
        "uploading": "正在核验，请稍候…",
        "passed": "人脸核身通过",
        "passed_lead": "已达到 {level}。",
        "failed": "人脸核身未通过",
        "retry": "重新拍摄",
        "help": "详细说明",
        "to_status": "查看认证状态",
        "no_camera": "无法打开摄像头：请允许本页使用摄像头，或换用带前置摄像头的设备。",
        "error": "提交失败，请重试。",
        "step": "第 {n} / {total} 步",
    },
    "en": {
        "title": "Face check",
        "lead": "Follow the prompts: we confirm it is you in front of the camera and compare "
        "you with your registry photo.",
        "consent_title": "Your separate consent to use face data",
        "consent_text": "Face data is sensitive personal information. We use it only for a "
        "liveness check and a comparison with your registry photo; the pictures are deleted "
        "once the result is known, only the measurements are kept.",
        "consent_agree": "Agree and continue",
        "not_ready": "Verify your identity details (L2) before the face check.",
        "to_identity": "Enter identity details",
        "start": "Start",
        "privacy": "The pictures are used for this check only and are not kept.",
        "consent_kept": "Face data is sensitive personal information. We use it only for a "
        "liveness check and a comparison with your registry photo; the pictures are kept "
        "encrypted for {days} days, then deleted.",
        "privacy_kept": "The pictures are used for this check only, kept encrypted for {days} "
        "days, then deleted.",
        "hold": "Look at the screen and hold still",
        "blink": "Blink your eyes",
        "turn_left": "Turn your head to your left",
        "turn_right": "Turn your head to your right",
        "open_mouth": "Open your mouth",
        "uploading": "Checking, one moment…",
        "passed": "Face check passed",
        "passed_lead": "You have reached {level}.",
        "failed": "Face check did not pass",
        "retry": "Try again",
        "help": "More help",
        "to_status": "Verification status",
        "no_camera": "The camera could not be opened: allow this page to use it, or use a "
        "device with a front camera.",
        "error": "That did not work; please try again.",
        "step": "Step {n} of {total}",
    },
}


def _l2(session: Any, account: Account) -> bool:
    latest = latest_result(session, account.id)
    return latest is not None and Level.parse(latest.level_reached) >= Level.L2


@router.get("/face", response_class=HTMLResponse)
def face_page(request: Request, lang: LangQuery = "zh-CN") -> Response:
    with _unit(request) as session:
        account = _signed_in(request, session)
        if account is None:
            return _to_sign_in(lang)
        consented = "face" in users.consents_of(session, account, utcnow())
        ready = _l2(session, account)
    mode = "consent" if not consented else ("camera" if ready else "not_ready")
    words = dict(WORDS[lang])
    days = _context(request).settings.face_frame_retention_days
    if days > 0:
        # Say what is true: with a retention period the frames are kept that long.
        words["consent_text"] = words["consent_kept"].format(days=days)
        words["privacy"] = words["privacy_kept"].format(days=days)
    return _render(
        request,
        "face.html",
        lang,
        {"mode": mode, "w": words, "words_json": json.dumps(words, ensure_ascii=False)},
    )


@router.post("/face/consent", response_class=HTMLResponse)
async def face_consent(request: Request, lang: LangQuery = "zh-CN") -> Response:
    form = await _form(request)
    with _unit(request) as session:
        account = _signed_in(request, session)
        if account is None:
            return _expired_page(request, lang)
        if not _csrf_ok(request.cookies.get(SESSION_COOKIE), _one(form, "csrf")):
            return RedirectResponse(f"/face?lang={lang}", status_code=303)
        users.give_consents(session, account, ["face"], utcnow())
    return RedirectResponse(f"/face?lang={lang}", status_code=303)


def _json_error(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def _caller(request: Request, session: Any) -> Account | JSONResponse:
    account = _signed_in(request, session)
    if account is None:
        return _json_error("signed_out", "", 401)
    if not _csrf_ok(request.cookies.get(SESSION_COOKIE), request.headers.get("x-csrf-token", "")):
        return _json_error("csrf", "", 403)
    return account


@router.post("/face/sessions")
def start(request: Request, lang: LangQuery = "zh-CN") -> JSONResponse:
    context = _context(request)
    try:
        with _unit(request) as session:
            caller = _caller(request, session)
            if isinstance(caller, JSONResponse):
                return caller
            started = faces.start_session(
                session,
                context.session_factory,
                caller,
                context.policies.product(PRODUCT),
                now=utcnow(),
            )
    except RealnameError as error:
        return _json_error(error.code, WORDS[lang]["error"], error.http_status)
    return JSONResponse(
        {
            "session_id": started.session_id,
            "nonce": started.nonce,
            "actions": [action.value for action in started.actions],
            "expires_at": started.expires_at.isoformat(),
            "step_ms": STEP_MS,
            "max_frames": faces.MAX_FRAMES,
        }
    )


def _explained(session: Any, account: Account, lang: Language) -> list[dict[str, str]]:
    try:
        view = users.status(session, account, lang)
    except NotFound:
        return []
    return [
        {
            "code": cause["code"],
            "title": cause["title"],
            "message": cause["message"],
            "help": f"/help/{cause['code']}?lang={lang}",
        }
        for cause in view.causes
        if cause["severity"] == "blocking"
    ]


@router.post("/face/sessions/{session_id}/frames")
async def upload(request: Request, session_id: str, lang: LangQuery = "zh-CN") -> JSONResponse:
    context = _context(request)
    try:
        body = await request.json()
    except ValueError:
        return _json_error("json", WORDS[lang]["error"], 400)
    frames = body.get("frames") if isinstance(body, dict) else None
    nonce = body.get("nonce") if isinstance(body, dict) else None
    if not isinstance(frames, list) or not isinstance(nonce, str) or len(frames) > 64:
        return _json_error("json", WORDS[lang]["error"], 400)
    raw = [
        faces.RawFrame(str(f.get("media_type", "")), str(f.get("content_base64", "")))
        for f in frames
        if isinstance(f, dict)
    ]
    try:
        with _unit(request) as session:
            caller = _caller(request, session)
            if isinstance(caller, JSONResponse):
                return caller
            result = await faces.upload_frames(
                session,
                context.session_factory,
                context.vault,
                context.provider,
                caller,
                context.policies.product(PRODUCT),
                session_id=session_id,
                nonce=nonce[:128],
                frames=raw,
                now=utcnow(),
                retention_days=context.settings.face_frame_retention_days,
            )
        with _unit(request) as session:
            causes = _explained(session, caller, lang)
    except RealnameError as error:
        return _json_error(error.code, WORDS[lang]["error"], error.http_status)
    return JSONResponse(
        {
            "state": result.state,
            "level": result.level,
            "causes": causes if result.state != "passed" else [],
            "status_url": f"/status?lang={lang}",
        }
    )
