"""Face sessions (人脸核身): an active-liveness challenge, one upload, one result.

A borrower at L2 asks for L3. :func:`start_session` issues a challenge — 2 or 3 of
blink, turn left/right, open mouth in a random order, a random nonce, a two-minute
expiry — and keeps it in the ``face_sessions`` table, so any API process can take
the answer. :func:`upload_frames` takes the frames the camera filmed:

1. separate face consent is required (PIPL Art. 29, ``CONSENT_MISSING``);
2. the frames are checked before anything is spent: 2–12 JPEG/PNG frames of at
   most 1.5 MB and 2 megapixels each (``FACE_FRAMES_COUNT``, ``FACE_FRAME_TOO_LARGE``,
   ``FACE_FRAME_INVALID``);
3. the nonce is spent by one guarded update — a second upload is
   ``FACE_CHALLENGE_USED``, a late one ``FACE_CHALLENGE_EXPIRED`` — and the frames are
   judged by :func:`realname.authorities.face.liveness.evaluate` (the actions in
   order, the same person throughout, no flat replay);
4. a capture that fails liveness is recorded as a local check (the Tencent-style
   code and ``LivenessInfoTag`` as raw code, no cost) and a result with
   ``FACE_LIVENESS_FAILED`` or ``FACE_QUALITY``; comparison is not asked for;
5. a live capture goes to the configured provider through
   :func:`realname.verification.service.verify`, exactly as a face submitted with
   identity elements does: the provider's own liveness on the frames and the
   comparison with the authoritative portrait are recorded with their cost and raw
   codes, and the diagnosis sets the level (L3) or the causes (``FACE_MISMATCH`` …).

**Biometric data.** Frames are never logged and by default never stored: only the
measurements (landmark ratios, similarity, codes) are kept. With
``REALNAME_FACE_FRAME_RETENTION_DAYS`` above 0 the frames are kept encrypted under
the person's data key (so erasure shreds them) until :func:`purge_frames` deletes
them after that many days.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session, sessionmaker

from realname.accounts.possession import possession_proven
from realname.authorities.face import (
    Action,
    Challenge,
    ChallengeOutcome,
    DlibEngine,
    FaceImageInvalid,
    LivenessReason,
    LivenessResult,
    default_engine,
    evaluate,
)
from realname.authorities.face.images import RGBImage, encode_frames, to_rgb
from realname.authorities.protocol import FaceCapture, Provider
from realname.errors import BadRequest, Conflict, Forbidden, NotFound, RealnameError
from realname.privacy.vault import Vault
from realname.store.models import Account, FaceSession
from realname.store.repositories import audit
from realname.store.repositories.checks import (
    CauseRecord,
    latest_result,
    record_check,
    record_result,
)
from realname.store.repositories.people import get_person, read_account_phone, read_identity
from realname.verification.diagnosis import FactorState
from realname.verification.evidence import Possession
from realname.verification.intake import RawSubmission
from realname.verification.levels import Level
from realname.verification.policy import ProductPolicy
from realname.verification.service import verify
from realname.verification.users import consents_of
from realname.webhooks.outbox import enqueue_status_changed

#: How long a challenge may be answered.
CHALLENGE_TTL = timedelta(minutes=2)
MIN_FRAMES = 2
MAX_FRAMES = 12
MAX_FRAME_BYTES = 1_500_000
MAX_FRAME_PIXELS = 2_000_000
FRAMES_FIELD = "frames"
TABLE = "face_sessions"
#: The provider name recorded for the local active-liveness check.
LOCAL_PROVIDER = "local"


class ConsentMissing(RealnameError):
    code: ClassVar[str] = "CONSENT_MISSING"
    http_status: ClassVar[int] = 403
    default_message: ClassVar[str] = "Face data is used only with the user's separate consent."


class FaceStepsIncomplete(RealnameError):
    code: ClassVar[str] = "STEPS_INCOMPLETE"
    http_status: ClassVar[int] = 409
    default_message: ClassVar[str] = (
        "Verify name, ID number and phone or bank card (L2) before the face check."
    )


class FaceChallengeUsed(Conflict):
    code: ClassVar[str] = "FACE_CHALLENGE_USED"
    default_message: ClassVar[str] = (
        "This challenge was already answered; start a new face session."
    )


class FaceChallengeExpired(RealnameError):
    code: ClassVar[str] = "FACE_CHALLENGE_EXPIRED"
    http_status: ClassVar[int] = 410
    default_message: ClassVar[str] = "This challenge has expired; start a new face session."


class FaceChallengeInvalid(Forbidden):
    code: ClassVar[str] = "FACE_CHALLENGE_INVALID"
    default_message: ClassVar[str] = "The nonce does not belong to this face session."


class FaceFramesInvalid(RealnameError):
    """The upload cannot be judged; ``details`` name the frame and the problem."""

    code: ClassVar[str] = "FACE_FRAME_INVALID"
    http_status: ClassVar[int] = 422
    default_message: ClassVar[str] = "A frame is not a JPEG or PNG image."


class FaceFramesCount(FaceFramesInvalid):
    code: ClassVar[str] = "FACE_FRAMES_COUNT"
    default_message: ClassVar[str] = f"Send between {MIN_FRAMES} and {MAX_FRAMES} frames."


class FaceFrameTooLarge(FaceFramesInvalid):
    code: ClassVar[str] = "FACE_FRAME_TOO_LARGE"
    default_message: ClassVar[str] = (
        f"A frame may be at most {MAX_FRAME_BYTES} bytes and {MAX_FRAME_PIXELS} pixels."
    )


@dataclass(frozen=True)
class RawFrame:
    """One uploaded frame as the client sent it."""

    media_type: str
    content_base64: str


@dataclass(frozen=True)
class Started:
    session_id: str
    nonce: str
    actions: tuple[Action, ...]
    expires_at: datetime


@dataclass(frozen=True)
class SessionView:
    session_id: str
    state: str
    actions: list[str]
    product: str
    expires_at: datetime
    completed_at: datetime | None
    level: str | None
    causes: list[str]
    result: dict[str, Any]


def nonce_hash(nonce: str) -> str:
    return hashlib.sha256(f"realname-face-nonce:{nonce}".encode()).hexdigest()


# ------------------------------------------------------------------------- the store


class SqlChallengeStore:
    """The liveness module's :class:`~realname.authorities.face.ChallengeStore` on the
    ``face_sessions`` table. Each call is its own short transaction, committed at once,
    so spending a nonce never waits for (or holds a lock across) the face analysis."""

    def __init__(
        self, session_factory: sessionmaker[Session], *, owner: tuple[str, str, str] | None = None
    ) -> None:
        self._factory = session_factory
        #: (tenant id, account id, product) of challenges this store issues.
        self._owner = owner

    def save(self, challenge: Challenge) -> None:
        if self._owner is None:
            raise ValueError("this store only spends challenges")
        tenant_id, account_id, product = self._owner
        with self._factory() as session, session.begin():
            session.add(
                FaceSession(
                    tenant_id=tenant_id,
                    account_id=account_id,
                    nonce_hash=nonce_hash(challenge.nonce),
                    actions=[action.value for action in challenge.actions],
                    product=product,
                    created_at=challenge.issued_at,
                    expires_at=challenge.expires_at,
                )
            )

    def consume(self, challenge: Challenge, *, now: datetime) -> ChallengeOutcome:
        digest = nonce_hash(challenge.nonce)
        actions = [action.value for action in challenge.actions]
        with self._factory() as session, session.begin():
            row = session.query(FaceSession).filter_by(nonce_hash=digest).one_or_none()
            if row is None or list(row.actions) != actions:
                return ChallengeOutcome.UNKNOWN
            spent: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                update(FaceSession)
                .where(FaceSession.id == row.id, FaceSession.used_at.is_(None))
                .values(used_at=now)
            )
            if spent.rowcount != 1:
                return ChallengeOutcome.REPLAYED
            if now >= row.expires_at:
                row.state = "expired"
                return ChallengeOutcome.EXPIRED
            return ChallengeOutcome.ACCEPTED


# ------------------------------------------------------------------------ start / read


def _issue(now: datetime, ttl: timedelta) -> Challenge:
    return Challenge.issue(now=now, ttl=ttl)


#: How challenges are made: :meth:`Challenge.issue` on the OS CSPRNG. Browser tests
#: replace it to know the action order before the fake camera file is built.
new_challenge: Callable[[datetime, timedelta], Challenge] = _issue


def _require_consent(session: Session, account: Account, now: datetime) -> None:
    if "face" not in consents_of(session, account, now):
        raise ConsentMissing(kind="face")


def _require_l2(session: Session, account: Account) -> None:
    latest = latest_result(session, account.id)
    if latest is None or Level.parse(latest.level_reached) < Level.L2:
        raise FaceStepsIncomplete(missing=["id_two_element", "bound_channel"])


def start_session(
    session: Session,
    session_factory: sessionmaker[Session],
    account: Account,
    policy: ProductPolicy,
    *,
    now: datetime,
) -> Started:
    """Issue a challenge for ``account`` toward ``policy`` (a product needing L3)."""
    if policy.level < Level.L3:
        raise BadRequest("This product does not need a face check (L3).", field="product")
    _require_consent(session, account, now)
    _require_l2(session, account)
    # The store writes in its own transaction; end ours first (no lock held across it).
    session.commit()
    challenge = new_challenge(now, CHALLENGE_TTL)
    SqlChallengeStore(session_factory, owner=(account.tenant_id, account.id, policy.name)).save(
        challenge
    )
    row = session.query(FaceSession).filter_by(nonce_hash=nonce_hash(challenge.nonce)).one()
    return Started(
        session_id=row.id,
        nonce=challenge.nonce,
        actions=challenge.actions,
        expires_at=challenge.expires_at,
    )


def _row(session: Session, account: Account, session_id: str) -> FaceSession:
    row = session.get(FaceSession, session_id)
    if row is None or row.account_id != account.id:
        raise NotFound("No such face session.", session_id=session_id[:64])
    return row


def view(session: Session, account: Account, session_id: str, now: datetime) -> SessionView:
    """The session as its owner may see it: state, actions and measured result."""
    row = _row(session, account, session_id)
    state = row.state
    if state == "pending" and now >= row.expires_at:
        state = "expired"
    result = dict(row.result or {})
    return SessionView(
        session_id=row.id,
        state=state,
        actions=list(row.actions),
        product=row.product,
        expires_at=row.expires_at,
        completed_at=row.completed_at,
        level=result.get("level"),
        causes=list(result.get("causes", [])),
        result=result,
    )


# ------------------------------------------------------------------------------ frames


def decode_upload(frames: Sequence[RawFrame]) -> list[RGBImage]:
    """Decode and bound the uploaded frames; a clear 422 for the first bad one."""
    if not MIN_FRAMES <= len(frames) <= MAX_FRAMES:
        raise FaceFramesCount(count=len(frames), min=MIN_FRAMES, max=MAX_FRAMES)
    images: list[RGBImage] = []
    for index, frame in enumerate(frames):
        if frame.media_type not in ("image/jpeg", "image/png"):
            raise FaceFramesInvalid(
                "Frames must be image/jpeg or image/png.", frame=index, problem="media_type"
            )
        if len(frame.content_base64) > (MAX_FRAME_BYTES * 4) // 3 + 4:
            raise FaceFrameTooLarge(frame=index, problem="bytes")
        try:
            content = base64.b64decode(frame.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise FaceFramesInvalid(
                "A frame is not valid base64.", frame=index, problem="base64"
            ) from None
        if len(content) > MAX_FRAME_BYTES:
            raise FaceFrameTooLarge(frame=index, problem="bytes")
        try:
            image = to_rgb(content)
        except FaceImageInvalid as error:
            problem = str(error.details.get("problem", "undecodable"))
            if problem == "too_large":
                raise FaceFrameTooLarge(frame=index, problem="pixels") from None
            raise FaceFramesInvalid(frame=index, problem=problem) from None
        if image.shape[0] * image.shape[1] > MAX_FRAME_PIXELS:
            raise FaceFrameTooLarge(frame=index, problem="pixels")
        images.append(image)
    if len({image.shape for image in images}) != 1:
        raise FaceFramesInvalid("All frames must have the same size.", problem="sizes_differ")
    return images


def _encrypt_frames(
    vault: Vault, session: Session, account: Account, row: FaceSession, frames: list[RawFrame]
) -> bytes:
    assert account.person_id is not None
    person = get_person(session, account.person_id)
    payload = json.dumps(
        [{"media_type": f.media_type, "content_base64": f.content_base64} for f in frames]
    )
    return vault.encrypt(person, payload, table=TABLE, row_id=row.id, field=FRAMES_FIELD)


def read_frames(vault: Vault, session: Session, account: Account, session_id: str) -> list[bytes]:
    """The retained frames of a session (empty once purged or never kept)."""
    row = _row(session, account, session_id)
    if row.frames_ciphertext is None or account.person_id is None:
        return []
    person = get_person(session, account.person_id)
    plain = vault.decrypt(
        person, row.frames_ciphertext, table=TABLE, row_id=row.id, field=FRAMES_FIELD
    )
    return [base64.b64decode(item["content_base64"]) for item in json.loads(plain)]


def purge_frames(session: Session, now: datetime) -> int:
    """Delete every retained frame whose retention period has ended; returns how many sessions."""
    purged: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(FaceSession)
        .where(FaceSession.purge_after.is_not(None), FaceSession.purge_after <= now)
        .values(frames_ciphertext=None, purge_after=None)
    )
    return int(purged.rowcount or 0)


# ------------------------------------------------------------------------------ upload


def _measurements(liveness: LivenessResult) -> dict[str, Any]:
    return {
        "passed": liveness.passed,
        "reason": liveness.reason.value if liveness.reason else None,
        "live_status": liveness.live_status,
        "liveness_info_tag": liveness.liveness_info_tag,
        "quality": liveness.quality.value if liveness.quality else None,
        "quality_frame": liveness.quality_frame,
        "actions": [
            {"action": d.action.value, "detected": d.detected, "frame": d.frame}
            for d in liveness.actions
        ],
        "frames": [
            {
                "index": m.index,
                "eye_ratio": round(m.eye_ratio, 3),
                "mouth_delta": round(m.mouth_delta, 3),
                "yaw_delta": round(m.yaw_delta, 3),
                "planar_residual": round(m.planar_residual, 4),
                "motion": round(m.motion, 3),
                "identity_distance": round(m.identity_distance, 3),
            }
            for m in liveness.frames
        ],
    }


#: The quality reasons as the cause catalogue words them.
_FACE_REASON = {"no_face": "no_face", "multiple_faces": "multiple_faces"}


def _failure_cause(liveness: LivenessResult) -> CauseRecord:
    if liveness.quality is not None:
        return CauseRecord(
            code="FACE_QUALITY",
            severity="blocking",
            details={"face_reason": _FACE_REASON.get(liveness.quality.value, "poor_quality")},
        )
    return CauseRecord(
        code="FACE_LIVENESS_FAILED",
        severity="blocking",
        details={
            "tag": liveness.liveness_info_tag or "",
            "reason": liveness.reason.value if liveness.reason else "",
        },
    )


def _record_liveness_failure(
    session: Session,
    account: Account,
    row: FaceSession,
    policy: ProductPolicy,
    liveness: LivenessResult,
    now: datetime,
) -> tuple[str, list[str], str]:
    """A failed capture: the local check and a result saying why; L3 not reached."""
    record_check(
        session,
        tenant_id=account.tenant_id,
        account_id=account.id,
        check_kind="face_liveness",
        provider=LOCAL_PROVIDER,
        outcome="quality" if liveness.quality is not None else "not_live",
        raw_code=str(liveness.live_status),
        raw_message=liveness.liveness_info_tag,
        provider_request_id=row.id,
    )
    previous = latest_result(session, account.id)
    reached = min(Level.parse(previous.level_reached), Level.L2) if previous else Level.L0
    cause = _failure_cause(liveness)
    result = record_result(
        session,
        account_id=account.id,
        level_reached=str(reached),
        level_needed=str(policy.level),
        causes=[cause],
        bound_phone_index=previous.bound_phone_index if previous else None,
        product=policy.name,
        verified_at=previous.verified_at if previous else None,
    )
    state = (str(reached), [cause.code])
    if (
        previous is None
        or (
            previous.level_reached,
            [c.code for c in previous.causes],
        )
        != state
    ):
        enqueue_status_changed(
            session,
            account.tenant_id,
            account.id,
            str(reached),
            str(policy.level),
            [cause.code],
            previous.level_reached if previous else None,
        )
    return result.id, [cause.code], str(reached)


def _capture(frames: list[RGBImage]) -> FaceCapture:
    content, media_type = encode_frames(frames)
    return FaceCapture(content=content, media_type=media_type)


async def upload_frames(
    session: Session,
    session_factory: sessionmaker[Session],
    vault: Vault,
    provider: Provider,
    account: Account,
    policy: ProductPolicy,
    *,
    session_id: str,
    nonce: str,
    frames: Sequence[RawFrame],
    now: datetime,
    retention_days: int = 0,
    engine: DlibEngine | None = None,
) -> SessionView:
    """Judge one upload for a session; see the module docstring for the steps."""
    row = _row(session, account, session_id)
    _require_consent(session, account, now)
    if not hmac.compare_digest(row.nonce_hash, nonce_hash(nonce)):
        raise FaceChallengeInvalid()
    images = decode_upload(frames)
    challenge = Challenge(
        nonce=nonce,
        actions=tuple(Action(a) for a in row.actions),
        issued_at=row.created_at,
        expires_at=row.expires_at,
    )
    row_id = row.id
    session.commit()
    liveness = await asyncio.to_thread(
        evaluate,
        challenge,
        images,
        store=SqlChallengeStore(session_factory),
        now=now,
        engine=engine or default_engine(),
    )
    session.expire_all()
    row = _row(session, account, row_id)
    if liveness.reason is LivenessReason.CHALLENGE_REPLAYED:
        raise FaceChallengeUsed()
    if liveness.reason is LivenessReason.CHALLENGE_EXPIRED:
        raise FaceChallengeExpired()
    if liveness.reason is LivenessReason.CHALLENGE_UNKNOWN:
        raise FaceChallengeInvalid()
    measured: dict[str, Any] = {"liveness": _measurements(liveness)}
    if not liveness.passed:
        result_id, causes, level = _record_liveness_failure(
            session, account, row, policy, liveness, now
        )
        passed = False
    else:
        identity = read_identity(session, vault, get_person(session, account.person_id or ""))
        phone = identity.get("phone") or read_account_phone(session, vault, account)
        possession = (
            Possession.PROVEN
            if possession_proven(session, vault, account.id, phone)
            else Possession.NOT_ASKED
        )
        # verify() commits after reading the history, before asking the authorities.
        outcome = await verify(
            session,
            vault,
            provider,
            account,
            RawSubmission(
                name=identity.get("name"),
                id_number=identity.get("id_number"),
                phone=phone,
                bank_card=identity.get("bank_card"),
                face=await asyncio.to_thread(_capture, images),
                consent=consents_of(session, account, now),
            ),
            policy=policy,
            possession=possession,
            now=now,
        )
        row = _row(session, account, row_id)
        result_id, causes = outcome.result_id, list(outcome.diagnosis.codes)
        level = str(outcome.diagnosis.level)
        passed = outcome.diagnosis.factors.get("face") == FactorState.PASSED
        for record in outcome.records:
            similarity = getattr(record.answer, "similarity", None)
            if record.check.value == "face_compare" and similarity is not None:
                measured["similarity"] = similarity
    measured.update(level=level, causes=causes)
    row.state = "passed" if passed else "failed"
    row.completed_at = now
    row.result = measured
    row.result_id = result_id
    if retention_days > 0:
        row.frames_ciphertext = _encrypt_frames(vault, session, account, row, list(frames))
        row.purge_after = now + timedelta(days=retention_days)
    purge_frames(session, now)
    audit.append(
        session,
        "system:face",
        "face.session_completed",
        f"account:{account.id}",
        {
            "session_id": row.id,
            "state": row.state,
            "level": level,
            "causes": causes,
            "frames": len(frames),
            "frames_retained_days": retention_days,
        },
    )
    return view(session, account, row.id, now)
