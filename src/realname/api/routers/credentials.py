"""v1 reusable verification: issue, verify and revoke SD-JWT VCs; status lists; the ledger;
the trust registry; this instance as a witness of partners' ledgers (DESIGN §7)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from realname.api.deps import ContextDep, PrincipalDep, SessionDep, require_scope
from realname.api.routing import SessionEndingRoute
from realname.credentials import service
from realname.credentials.status_list import RevokeReason
from realname.errors import BadRequest
from realname.store.types import utcnow
from realname.verification import users

router = APIRouter(tags=["credentials"], route_class=SessionEndingRoute)
Issue = Depends(require_scope("credentials:issue"))
Verify = Depends(require_scope("credentials:verify"))
Admin = Depends(require_scope("registry:admin"))

STATUS_LIST_MEDIA_TYPE = "application/statuslist+jwt"
#: The app state attributes the router reads: the institution and an optional HTTP client.
INSTITUTION_STATE = "credentials_institution"
HTTP_STATE = "credentials_http"


def institution(request: Request, context: ContextDep) -> service.Institution:
    """This instance as an institution: ``app.state.credentials_institution`` or the env."""
    me: service.Institution | None = getattr(request.app.state, INSTITUTION_STATE, None)
    if me is None:
        settings = context.settings
        me = service.institution_from_env(
            context.vault, host=settings.host, port=settings.port, var_dir=settings.var_dir
        )
        setattr(request.app.state, INSTITUTION_STATE, me)
    return me


InstitutionDep = Annotated[service.Institution, Depends(institution)]


def _b64key(value: str | None, field: str) -> bytes | None:
    if value is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise BadRequest("A key is base64url.", field=field) from None
    if len(raw) != 32:
        raise BadRequest("An Ed25519 public key is 32 bytes.", field=field)
    return raw


_JWK: dict[str, Any] = {
    "kty": "OKP",
    "crv": "Ed25519",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}


class IssueIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"holder_jwk": _JWK}]}
    )
    holder_jwk: dict[str, str] = Field(description="The wallet's Ed25519 public key (OKP JWK)")


class IssuedOut(BaseModel):
    sd_jwt: str
    credential_hash: str
    status_uri: str
    status_index: int


class VerifyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "presentation": "eyJhbGciOiJFZERTQSIs…~WyJzYWx0Ii…~eyJ0eXAiOiJrYitqd3Qi…",
                    "nonce": "n-0S6_WzA2Mj",
                    "audience": "did:web:bank-b.example",
                }
            ]
        },
    )
    presentation: str = Field(max_length=32_000)
    nonce: str = Field(max_length=200)
    audience: str = Field(max_length=300)


class VerifiedOut(BaseModel):
    valid: bool
    issuer: str
    kid: str
    credential_hash: str
    claims: dict[str, Any]


class RevokeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"credential_hash": "9f86d0…0a08", "reason": "erasure"}]},
    )
    credential_hash: str = Field(max_length=64, description="Hex SHA-256 of the issuer JWT")
    reason: Literal["erasure", "phone_reissued", "fraud"]


class RevokedOut(BaseModel):
    credential_hash: str
    reason: str
    ledger_index: int


class InclusionOut(BaseModel):
    leaf_index: int
    tree_size: int
    event_time: int
    audit_path: list[str]
    checkpoint: str


class ConsistencyOut(BaseModel):
    old: int
    new: int
    proof: list[str]


class InstitutionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "did": "did:web:bank-b.example",
                    "name": "Bank B",
                    "roles": ["issuer", "verifier", "witness"],
                    "signing_key": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                    "ledger_key": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                    "witness_key": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                }
            ]
        },
    )
    did: str = Field(max_length=255)
    name: str = Field(max_length=200)
    roles: list[Literal["issuer", "verifier", "witness"]] = Field(min_length=1, max_length=3)
    signing_key: str | None = Field(default=None, description="base64url Ed25519, kid #k1")
    ledger_key: str | None = Field(default=None, description="base64url Ed25519, kid #ledger")
    witness_key: str | None = Field(default=None, description="base64url Ed25519, kid #witness")
    valid_from: datetime | None = Field(
        default=None, description="When the keys became valid (as the partner lists them)"
    )


class KeyOut(BaseModel):
    kid: str
    public_key: str
    valid_from: datetime
    valid_until: datetime | None


class InstitutionOut(BaseModel):
    did: str
    name: str
    roles: list[str]
    retired_at: datetime | None
    keys: list[KeyOut]


class RotateIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "did": "did:web:bank-b.example",
                    "kid": "did:web:bank-b.example#k2",
                    "public_key": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                }
            ]
        },
    )
    did: str = Field(max_length=255)
    kid: str = Field(max_length=320)
    public_key: str = Field(max_length=64)


class RetireIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"did": "did:web:bank-b.example", "kid": "did:web:bank-b.example#k1"}]
        },
    )
    did: str = Field(max_length=255)
    kid: str = Field(max_length=320)
    at: datetime | None = Field(default=None, description="When the key stopped (default now)")


class WitnessIn(BaseModel):
    """C2SP tlog-witness add-checkpoint, as JSON: the old size, the proof, the note."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "old": 0,
                    "proof": [],
                    "checkpoint": "did:web:bank-a.example/ledger\n1\nq1…=\n\n— did:web:… AbC…\n",
                }
            ]
        },
    )
    old: int = Field(ge=0)
    proof: list[str] = Field(max_length=64)
    checkpoint: str = Field(max_length=20_000)


class CosignedIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"checkpoint": "did:web:bank-a.example/ledger\n1\nq1…=\n\n— … AbC…\n— …\n"}
            ]
        },
    )
    checkpoint: str = Field(max_length=40_000)


class CosignedOut(BaseModel):
    tree_size: int
    witnesses: int


def _institution_out(row: Any, keys: list[Any]) -> InstitutionOut:
    return InstitutionOut(
        did=row.did,
        name=row.name,
        roles=list(row.roles),
        retired_at=row.retired_at,
        keys=[
            KeyOut(
                kid=k.kid,
                public_key=base64.urlsafe_b64encode(k.public_key).decode().rstrip("="),
                valid_from=k.valid_from,
                valid_until=k.valid_until,
            )
            for k in keys
        ],
    )


def _one(session: Session, did: str) -> InstitutionOut:
    [(row, keys)] = [(r, k) for r, k in service.list_institutions(session) if r.did == did]
    return _institution_out(row, keys)


@router.post("/v1/users/{user_id}/credentials", response_model=IssuedOut, dependencies=[Issue])
def issue(
    user_id: str,
    body: IssueIn,
    session: SessionDep,
    context: ContextDep,
    principal: PrincipalDep,
    me: InstitutionDep,
) -> IssuedOut:
    """Issue an SD-JWT VC (``dc+sd-jwt``) attesting the user's current level, bound to
    the holder's key; 409 ``STEPS_INCOMPLETE`` below L1. The issuance is in the ledger
    in the same transaction."""
    account = users.user_account(session, str(principal.tenant_id), user_id)
    issued = service.issue_for_account(
        session, context.vault, me, account, dict(body.holder_jwk), now=utcnow()
    )
    return IssuedOut(
        sd_jwt=issued.sd_jwt,
        credential_hash=issued.credential_hash.hex(),
        status_uri=issued.status_uri,
        status_index=issued.status_index,
    )


@router.post("/v1/credentials/verify", response_model=VerifiedOut, dependencies=[Verify])
def verify(
    body: VerifyIn, request: Request, session: SessionDep, me: InstitutionDep
) -> VerifiedOut:
    """Verify a partner's presentation: issuer in the trust registry, signature, times,
    disclosures, key binding (nonce, audience), status, ledger inclusion under a
    checkpoint cosigned by a quorum of witnesses. A failure is a 422 with its ``VC_*``."""
    verified = service.verify(
        session,
        me,
        body.presentation,
        nonce=body.nonce,
        audience=body.audience,
        now=utcnow(),
        http=getattr(request.app.state, HTTP_STATE, None),
    )
    return VerifiedOut(
        valid=True,
        issuer=verified.issuer,
        kid=verified.kid,
        credential_hash=verified.credential_hash.hex(),
        claims=verified.claims,
    )


@router.post("/v1/credentials/revoke", response_model=RevokedOut, dependencies=[Issue])
def revoke(body: RevokeIn, session: SessionDep, principal: PrincipalDep) -> RevokedOut:
    """Revoke a credential issued to this tenant's user (erasure, phone re-issued, fraud):
    its status entry turns INVALID and a revocation event enters the ledger."""
    index = service.revoke_credential(
        session,
        str(principal.tenant_id),
        body.credential_hash,
        RevokeReason(body.reason),
        now=utcnow(),
    )
    return RevokedOut(
        credential_hash=body.credential_hash.lower(), reason=body.reason, ledger_index=index
    )


@router.get("/v1/status-lists/{list_id}", response_class=Response)
def status_list(list_id: str, session: SessionDep, me: InstitutionDep) -> Response:
    """The signed Token Status List (public)."""
    token = service.status_list_token(session, me, list_id, now=utcnow())
    return Response(
        token,
        media_type=STATUS_LIST_MEDIA_TYPE,
        headers={"Cache-Control": f"max-age={min(service.STATUS_TTL, 60)}"},
    )


@router.get("/v1/ledger/checkpoint", response_class=Response)
def checkpoint(session: SessionDep, witnessed: Annotated[bool, Query()] = False) -> Response:
    """The latest signed checkpoint with its cosignatures (C2SP signed note; public);
    ``witnessed=true``: the latest one at least one witness cosigned."""
    return Response(
        service.latest_note(session, witnessed=witnessed), media_type="text/plain; charset=utf-8"
    )


@router.get("/v1/ledger/proof/inclusion", response_model=InclusionOut)
def inclusion_proof(
    session: SessionDep,
    hash: Annotated[str, Query(max_length=64, description="Hex SHA-256 of the issuer JWT")],
    size: Annotated[int | None, Query(ge=1)] = None,
) -> InclusionOut:
    """The issuance leaf's audit path under the checkpoint of ``size`` (default: the
    latest witnessed one), with that checkpoint (public)."""
    return InclusionOut.model_validate(service.inclusion(session, hash, size))


@router.get("/v1/ledger/proof/consistency", response_model=ConsistencyOut)
def consistency_proof(
    session: SessionDep,
    old: Annotated[int, Query(ge=0)],
    new: Annotated[int, Query(ge=0)],
) -> ConsistencyOut:
    """RFC 9162 consistency proof from tree ``old`` to tree ``new`` (public)."""
    return ConsistencyOut(old=old, new=new, proof=service.consistency(session, old, new))


@router.post("/v1/ledger/cosignatures", response_model=CosignedOut)
def add_cosignatures(body: CosignedIn, session: SessionDep) -> CosignedOut:
    """Merge witnesses' cosignatures into one of our checkpoints (public: only valid
    cosignatures by witnesses in the trust registry are kept)."""
    witnesses = service.add_cosignatures(session, body.checkpoint, at=utcnow())
    size = int(body.checkpoint.split("\n", 2)[1])
    return CosignedOut(tree_size=size, witnesses=witnesses)


@router.post("/v1/ledger/witness/add-checkpoint", response_class=Response)
def witness(body: WitnessIn, session: SessionDep, me: InstitutionDep) -> Response:
    """This instance as a witness: cosign a registered partner's checkpoint if it is
    consistent with the last one cosigned (409 ``LEDGER_INCONSISTENT`` otherwise);
    answers the cosignature line (public, like C2SP tlog-witness)."""
    line = service.witness_add_checkpoint(
        session, me, old_size=body.old, proof=body.proof, note=body.checkpoint, now=utcnow()
    )
    return Response(line, media_type="text/plain; charset=utf-8")


@router.get("/v1/registry/institutions", response_model=list[InstitutionOut], dependencies=[Admin])
def list_institutions(session: SessionDep, me: InstitutionDep) -> list[InstitutionOut]:
    """The trust registry, this institution first registered with its own public keys."""
    service.ensure_self(session, me, at=utcnow())
    return [_institution_out(row, keys) for row, keys in service.list_institutions(session)]


@router.post("/v1/registry/institutions", response_model=InstitutionOut, dependencies=[Admin])
def add_institution(body: InstitutionIn, session: SessionDep) -> InstitutionOut:
    """Add a partner institution (did:web or did:key) with its roles and keys."""
    row = service.register_institution(
        session,
        body.did,
        body.name,
        body.roles,
        at=utcnow(),
        signing_key=_b64key(body.signing_key, "signing_key"),
        ledger_key=_b64key(body.ledger_key, "ledger_key"),
        witness_key=_b64key(body.witness_key, "witness_key"),
        keys_valid_from=body.valid_from,
    )
    return _one(session, row.did)


@router.post(
    "/v1/registry/keys/rotate",
    response_model=InstitutionOut,
    dependencies=[Admin],
)
def rotate_key(body: RotateIn, session: SessionDep) -> InstitutionOut:
    """Open a new key; the institution's open keys of the same purpose close now."""
    raw = _b64key(body.public_key, "public_key")
    assert raw is not None
    service.rotate_institution_key(session, body.did, body.kid, raw, at=utcnow())
    return _one(session, body.did)


@router.post(
    "/v1/registry/keys/retire",
    response_model=InstitutionOut,
    dependencies=[Admin],
)
def retire_key(body: RetireIn, session: SessionDep) -> InstitutionOut:
    """Close a key (from ``at``, e.g. when a compromise began): it verifies nothing newer."""
    service.retire_institution_key(session, body.did, body.kid, at=body.at or utcnow())
    return _one(session, body.did)
