"""The I/O shell of reusable verification: what the credentials API and CLI call.

Everything pure (SD-JWT, Merkle proofs, checkpoints, cosignatures, status lists)
lives in the sibling modules; this module wires them to the database, the vault
and, for a partner's credentials, HTTP.

**This institution's own keys** are derived, not stored: HKDF-SHA256 (RFC 5869, as
:func:`realname.privacy.keys.hkdf_sha256`) from the vault keyring's *index key*,
under one label per purpose and generation. The index key is the one secret a
keyring keeps across ``realname keys rotate`` (the blind indexes depend on it), so
the issuer and log keys survive master-key rotation, need no new table, and are as
well protected as the vault itself; only public keys reach the trust registry.
Registry conventions (kid fragments of the institution's DID):

* ``#k<n>``: issuer signing keys, generation ``n`` from 1 (``rotate`` opens n+1);
* ``#ledger``: the ledger's checkpoint (signed-note) key, origin ``<did>/ledger``;
* ``#witness``: the cosignature/v1 key, key name ``<did>/witness``.

The ledger and witness keys sign only newline-bearing note texts, which can never be
a JWS signing input, so listing them under the same DID cannot forge a credential.

Issuance events go to the ledger in the issuing transaction (a batch of one per
request; :func:`append_events` takes a batch); the checkpointer
(:mod:`realname.credentials.jobs`) signs a checkpoint every second while there are
new leaves, so one signature covers every append of that second (group commit).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.orm import Session

from realname.credentials import ledger_store, revocation
from realname.credentials.checkpoint import (
    Checkpoint,
    LedgerNoteMalformed,
    LedgerSignatureInvalid,
    NoteSigner,
    NoteVerifier,
    SignedNote,
    open_checkpoint,
    parse_signed_note,
)
from realname.credentials.cosign import (
    CosignatureSigner,
    CosignatureVerifier,
    LedgerInconsistent,
)
from realname.credentials.did import validate_did
from realname.credentials.events import EventType, LedgerEvent
from realname.credentials.issuer import IssuedCredential, IssuerKey, issue_credential
from realname.credentials.lifecycle import record_issuance, revoke_by_hash
from realname.credentials.merkle import EMPTY_ROOT, verify_consistency
from realname.credentials.registry import (
    DbTrustRegistry,
    KeyIntervalInvalid,
    Role,
    add_institution,
    add_key,
)
from realname.credentials.sdjwt import Jws, SdJwt, SdJwtMalformed, jwk_to_public_key
from realname.credentials.status_list import (
    RevokeReason,
    StatusListInvalid,
    open_status_list_token,
)
from realname.credentials.verifier import (
    CheckpointCache,
    LedgerEvidence,
    VerifiedPresentation,
    verify_presentation,
)
from realname.errors import BadRequest, ConfigurationError, NotFound, RealnameError
from realname.identity.id_number import get_age
from realname.privacy.keys import hkdf_sha256
from realname.privacy.vault import Vault
from realname.store.models import (
    Account,
    CredentialStatusList,
    InstitutionKey,
    LedgerCheckpoint,
    TrustedInstitution,
)
from realname.store.repositories import audit
from realname.store.repositories.checks import latest_result
from realname.store.repositories.people import get_person, read_identity
from realname.verification.levels import Level

__all__ = [
    "ISSUED_ACTION",
    "Institution",
    "StepsIncomplete",
    "add_cosignatures",
    "append_events",
    "checkpoint_now",
    "consistency",
    "ensure_self",
    "inclusion",
    "institution_from_env",
    "issue_for_account",
    "latest_note",
    "list_institutions",
    "register_institution",
    "retire_institution_key",
    "revoke_credential",
    "rotate_institution_key",
    "rotate_own_key",
    "status_list_token",
    "verify",
    "witness_add_checkpoint",
]

ISSUED_ACTION = "credential.issued"
_LABEL = b"realname/credentials/v1\n"
_LOCK = threading.Lock()
STATUS_TTL = 300


class StepsIncomplete(RealnameError):
    """The user is below L1: there is nothing to attest yet."""

    code: ClassVar[str] = "STEPS_INCOMPLETE"
    http_status: ClassVar[int] = 409
    default_message: ClassVar[str] = "A credential needs a verified level of L1 or higher."


def _seed(secret: bytes, purpose: str, did: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(
        hkdf_sha256(secret, _LABEL + f"{purpose}\n{did}".encode())
    )


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _second(value: datetime) -> datetime:
    """Whole seconds: credentials carry ``iat`` in seconds, so key validity does too."""
    return value.replace(microsecond=0)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Institution:
    """This instance as an institution: its DID, public URL, derived keys and quorum."""

    did: str
    name: str
    base_url: str
    secret: bytes = field(repr=False)
    quorum: int = 2
    witness_state: Path | None = None

    def __post_init__(self) -> None:
        if not self.did.startswith("did:web:"):
            raise ConfigurationError("This institution's own DID must be a did:web.")
        validate_did(self.did)
        if self.quorum < 1:
            raise ConfigurationError("The witness quorum is at least 1.")

    @property
    def origin(self) -> str:
        return f"{self.did}/ledger"

    def issuer_private_key(self, generation: int) -> Ed25519PrivateKey:
        return _seed(self.secret, f"issuer#{generation}", self.did)

    @property
    def log_signer(self) -> NoteSigner:
        return NoteSigner(self.origin, _seed(self.secret, "ledger", self.did))

    @property
    def witness_signer(self) -> CosignatureSigner:
        return CosignatureSigner(f"{self.did}/witness", _seed(self.secret, "witness", self.did))


def did_web_for(base_url: str) -> str:
    """``did:web`` of a URL's host (port percent-encoded, path segments colon-joined)."""
    parts = urlsplit(base_url)
    host = parts.hostname or "localhost"
    if parts.port:
        host += f"%3A{parts.port}"
    path = ":".join(p for p in parts.path.split("/") if p)
    return f"did:web:{host}" + (f":{path}" if path else "")


def institution_from_env(
    vault: Vault,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    var_dir: Path | None = None,
) -> Institution:
    """``REALNAME_PUBLIC_URL`` (default ``http://<host>:<port>``), ``REALNAME_INSTITUTION_DID``
    (default the URL's did:web), ``REALNAME_INSTITUTION_NAME``, ``REALNAME_WITNESS_QUORUM``."""
    base_url = os.environ.get("REALNAME_PUBLIC_URL", f"http://{host}:{port}").rstrip("/")
    return Institution(
        did=os.environ.get("REALNAME_INSTITUTION_DID") or did_web_for(base_url),
        name=os.environ.get("REALNAME_INSTITUTION_NAME", "realname"),
        base_url=base_url,
        secret=vault.keyring.index_key,
        quorum=int(os.environ.get("REALNAME_WITNESS_QUORUM", "2")),
        witness_state=None if var_dir is None else var_dir / "credentials-witness.json",
    )


# --- the registry ------------------------------------------------------------------------


def _purpose(kid: str) -> str:
    fragment = kid.partition("#")[2]
    for purpose in ("ledger", "witness"):
        if fragment.startswith(purpose):
            return purpose
    return "signing"


def _open_keys(session: Session, did: str, at: datetime) -> list[InstitutionKey]:
    return [
        key
        for key in DbTrustRegistry(session).keys_of(did)
        if _aware(key.valid_from) <= at
        and (key.valid_until is None or _aware(key.valid_until) > at)
    ]


def _key_of(session: Session, did: str, purpose: str, at: datetime) -> InstitutionKey | None:
    keys = [k for k in _open_keys(session, did, at) if _purpose(k.kid) == purpose]
    return keys[-1] if keys else None


def register_institution(
    session: Session,
    did: str,
    name: str,
    roles: Sequence[str],
    *,
    at: datetime,
    signing_key: bytes | None = None,
    ledger_key: bytes | None = None,
    witness_key: bytes | None = None,
    keys_valid_from: datetime | None = None,
) -> TrustedInstitution:
    """Add a partner institution with its public keys (raw Ed25519, 32 bytes each),
    valid from ``keys_valid_from`` (as the partner publishes it) or ``at``, in whole
    seconds like the ``iat`` of credentials."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        role_set = [Role(r) for r in roles]
    except ValueError:
        raise BadRequest("Roles are issuer, verifier and witness.", field="roles") from None
    at = _second(at)
    institution = add_institution(session, did, name, role_set, at=at)
    for fragment, raw in (("k1", signing_key), ("ledger", ledger_key), ("witness", witness_key)):
        if raw is not None:
            if len(raw) != 32:
                raise BadRequest("An Ed25519 public key is 32 bytes.", field=fragment)
            add_key(
                session,
                did,
                f"{did}#{fragment}",
                Ed25519PublicKey.from_public_bytes(raw),
                valid_from=_second(keys_valid_from or at),
            )
    return institution


def rotate_institution_key(
    session: Session, did: str, kid: str, public_key: bytes, *, at: datetime
) -> InstitutionKey:
    """Open ``kid`` at ``at``, closing the open keys of the same purpose only
    (rotating a signing key leaves the ledger and witness keys alone)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not kid.startswith(f"{did}#") or len(public_key) != 32:
        raise BadRequest("The kid is '<did>#<fragment>' and the key 32 bytes.", field="kid")
    if session.get(TrustedInstitution, did) is None:
        raise NotFound("No such institution in the trust registry.")
    for key in _open_keys(session, did, at):
        if _purpose(key.kid) == _purpose(kid):
            if _aware(key.valid_from) >= at:
                raise KeyIntervalInvalid()
            key.valid_until = at
    return add_key(session, did, kid, Ed25519PublicKey.from_public_bytes(public_key), valid_from=at)


def retire_institution_key(session: Session, did: str, kid: str, *, at: datetime) -> None:
    from realname.credentials.registry import retire_key

    retire_key(session, did, kid, at=at)


def list_institutions(session: Session) -> list[tuple[TrustedInstitution, list[InstitutionKey]]]:
    registry = DbTrustRegistry(session)
    rows = session.scalars(select(TrustedInstitution).order_by(TrustedInstitution.did))
    return [(row, registry.keys_of(row.did)) for row in rows]


def ensure_self(session: Session, me: Institution, *, at: datetime) -> None:
    """Register this institution (issuer, verifier, witness) with its derived keys, once."""
    if session.get(TrustedInstitution, me.did) is not None:
        return
    at = _second(at)
    register_institution(
        session,
        me.did,
        me.name,
        [Role.ISSUER, Role.VERIFIER, Role.WITNESS],
        at=at,
        signing_key=_raw(me.issuer_private_key(1)),
        ledger_key=_raw(me.log_signer.private_key),
        witness_key=_raw(me.witness_signer.private_key),
    )


def _generation(kid: str) -> int:
    fragment = kid.partition("#")[2]
    if not fragment.startswith("k") or not fragment[1:].isdigit():
        raise ConfigurationError("This institution's signing kids are '<did>#k<n>'.")
    return int(fragment[1:])


def current_issuer_key(session: Session, me: Institution, *, at: datetime) -> IssuerKey:
    ensure_self(session, me, at=at)
    row = _key_of(session, me.did, "signing", at)
    if row is None:
        raise ConfigurationError("This institution has no open signing key: rotate one in.")
    private = me.issuer_private_key(_generation(row.kid))
    if _raw(private) != row.public_key:
        raise ConfigurationError("The registered signing key is not derived from this keyring.")
    return IssuerKey(me.did, row.kid, private)


def rotate_own_key(session: Session, me: Institution, *, at: datetime) -> str:
    """Open signing key generation n+1 (old credentials keep verifying); answer its kid."""
    at = _second(at)
    ensure_self(session, me, at=at)
    kids = [k.kid for k in DbTrustRegistry(session).keys_of(me.did) if _purpose(k.kid) == "signing"]
    generation = max((_generation(k) for k in kids), default=0) + 1
    kid = f"{me.did}#k{generation}"
    rotate_institution_key(session, me.did, kid, _raw(me.issuer_private_key(generation)), at=at)
    return kid


# --- issuance and revocation -------------------------------------------------------------


def _status_list(session: Session, me: Institution, *, at: datetime) -> CredentialStatusList:
    row = session.scalar(
        select(CredentialStatusList)
        .where(
            CredentialStatusList.issuer_did == me.did,
            CredentialStatusList.next_index < CredentialStatusList.capacity,
        )
        .order_by(CredentialStatusList.updated_at.desc())
        .limit(1)
    )
    if row is None:
        row = revocation.create_status_list(
            session, me.did, f"pending:{os.urandom(8).hex()}", at=at
        )
        row.uri = f"{me.base_url}/v1/status-lists/{row.id}"
        session.flush()
    return row


def append_events(session: Session, events: Sequence[LedgerEvent], *, at: datetime) -> list[int]:
    """Append a batch of events in the caller's transaction (one commit per batch)."""
    return ledger_store.append_many(session, events, at=at)


def issue_for_account(
    session: Session,
    vault: Vault,
    me: Institution,
    account: Account,
    holder_jwk: dict[str, Any],
    *,
    now: datetime,
) -> IssuedCredential:
    """Issue the SD-JWT VC for ``account``'s current level, allocate its status entry and
    append its issuance to the ledger, all in the caller's transaction."""
    result = latest_result(session, account.id)
    level = Level.parse(result.level_reached) if result is not None else Level.L0
    if result is None or level < Level.L1 or account.person_id is None:
        raise StepsIncomplete(level=str(level))
    holder = jwk_to_public_key(holder_jwk)
    identity = read_identity(session, vault, get_person(session, account.person_id))
    if "name" not in identity or "id_number" not in identity:
        raise StepsIncomplete(level=str(level))
    key = current_issuer_key(session, me, at=now)
    status = _status_list(session, me, at=now)
    index = revocation.allocate_index(session, status.id)
    today: date = now.astimezone(UTC).date()
    issued = issue_credential(
        key,
        holder_key=holder,
        level=level,
        verified_at=_aware(result.verified_at or now),
        age_over_18=get_age(identity["id_number"], today) >= 18,
        name=identity["name"],
        id_number=identity["id_number"],
        phone_verified=level >= Level.L2,
        status_uri=status.uri,
        status_index=index,
        now=int(now.timestamp()),
    )
    append_events(
        session,
        [LedgerEvent(EventType.ISSUED, issued.credential_hash, int(now.timestamp()))],
        at=now,
    )
    record_issuance(
        session,
        credential_hash=issued.credential_hash,
        tenant_id=account.tenant_id,
        account_id=account.id,
        list_id=status.id,
        idx=index,
        at=now,
    )
    audit.append(
        session,
        f"tenant:{account.tenant_id}",
        ISSUED_ACTION,
        issued.credential_hash.hex(),
        {"account_id": account.id, "level": str(level)},
        at=now,
    )
    return issued


def _hash(hex_hash: str) -> bytes:
    try:
        raw = bytes.fromhex(hex_hash)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise BadRequest("A hash is 64 hex digits (SHA-256).", field="hash")
    return raw


def revoke_credential(
    session: Session,
    tenant_id: str,
    credential_hash: str,
    reason: RevokeReason,
    *,
    now: datetime,
) -> int:
    """Revoke a credential this tenant was issued; append the revocation to the ledger."""
    return revoke_by_hash(session, tenant_id, _hash(credential_hash), reason, now)


def status_list_token(session: Session, me: Institution, list_id: str, *, now: datetime) -> str:
    row = session.get(CredentialStatusList, list_id)
    if row is None or row.issuer_did != me.did:
        raise NotFound("No such status list.")
    key = current_issuer_key(session, me, at=now)
    return revocation.publish_status_list(
        session, list_id, key=key.private_key, kid=key.kid, iat=int(now.timestamp()), ttl=STATUS_TTL
    )


# --- the ledger ---------------------------------------------------------------------------


def checkpoint_now(session: Session, me: Institution, *, at: datetime) -> str | None:
    """Sign a checkpoint if leaves were appended since the last one; answer it or ``None``."""
    head = ledger_store.latest_checkpoint(session)
    if head is not None and head.tree_size == ledger_store.size(session):
        return None
    ensure_self(session, me, at=at)
    return ledger_store.checkpoint(session, me.log_signer, at=at)


def _witnessed(session: Session) -> LedgerCheckpoint | None:
    """The latest checkpoint carrying at least one cosignature."""
    for row in session.scalars(
        select(LedgerCheckpoint).order_by(LedgerCheckpoint.tree_size.desc()).limit(50)
    ):
        if len(parse_signed_note(row.note).signatures) > 1:
            return row
    return None


def latest_note(session: Session, *, witnessed: bool = False) -> str:
    row = _witnessed(session) if witnessed else ledger_store.latest_checkpoint(session)
    if row is None:
        raise NotFound("No checkpoint yet.")
    return row.note


def inclusion(session: Session, credential_hash: str, size: int | None) -> dict[str, Any]:
    """The issuance leaf of ``credential_hash`` and its audit path under a checkpoint
    (``size``, or the latest witnessed one, or the latest)."""
    digest = _hash(credential_hash)
    if size is None:
        row = _witnessed(session) or ledger_store.latest_checkpoint(session)
    else:
        row = session.get(LedgerCheckpoint, size)
    if row is None:
        raise NotFound("No checkpoint of this size.")
    evidence = _evidence_under(session, digest, row)
    if evidence is None:
        raise NotFound("The credential is not in the ledger under this checkpoint.")
    return {
        "leaf_index": evidence.index,
        "tree_size": evidence.size,
        "event_time": evidence.event_time,
        "audit_path": [base64.b64encode(h).decode() for h in evidence.proof],
        "checkpoint": evidence.checkpoint,
    }


def _evidence_under(
    session: Session, digest: bytes, row: LedgerCheckpoint
) -> LedgerEvidence | None:
    from realname.store.models import LedgerLeaf

    leaf = session.scalar(
        select(LedgerLeaf)
        .where(
            LedgerLeaf.credential_hash == digest.hex(),
            LedgerLeaf.event_type == EventType.ISSUED.value,
        )
        .order_by(LedgerLeaf.leaf_index)
        .limit(1)
    )
    if leaf is None or leaf.leaf_index >= row.tree_size:
        return None
    proof = ledger_store.inclusion_proof(session, leaf.leaf_index, row.tree_size)
    return LedgerEvidence(leaf.event_time, leaf.leaf_index, row.tree_size, proof, row.note)


def consistency(session: Session, old: int, new: int) -> list[str]:
    if not 0 <= old <= new or new > ledger_store.size(session):
        raise BadRequest("Sizes must satisfy 0 <= old <= new <= the log size.", field="old")
    return [base64.b64encode(h).decode() for h in ledger_store.consistency_proof(session, old, new)]


def _witness_keys(
    session: Session, at: datetime, *, exclude: str | None = None
) -> list[CosignatureVerifier]:
    """Registered witnesses' cosignature keys; ``exclude`` (a log's own institution) is
    left out, so a log operator can never make up its own quorum."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    registry = DbTrustRegistry(session)
    keys = []
    for row in session.scalars(select(TrustedInstitution)):
        if row.did == exclude or not registry.is_trusted(row.did, Role.WITNESS):
            continue
        key = _key_of(session, row.did, "witness", at)
        if key is not None:
            keys.append(
                CosignatureVerifier(
                    f"{row.did}/witness", Ed25519PublicKey.from_public_bytes(key.public_key)
                )
            )
    return keys


def _log_key(session: Session, did: str, at: datetime) -> NoteVerifier | None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = _key_of(session, did, "ledger", at)
    if key is None or session.get(TrustedInstitution, did) is None:
        return None
    return NoteVerifier(f"{did}/ledger", Ed25519PublicKey.from_public_bytes(key.public_key))


def add_cosignatures(session: Session, note: str, *, at: datetime) -> int:
    """Merge the registry witnesses' valid cosignatures on one of our checkpoints into the
    stored note; answer how many witnesses have cosigned it now."""
    offered = parse_signed_note(note)
    body = Checkpoint.parse(offered.text)
    row = session.get(LedgerCheckpoint, body.size)
    if row is None:
        raise NotFound("No checkpoint of this size.")
    stored = parse_signed_note(row.note)
    if stored.text != offered.text:
        raise LedgerNoteMalformed("The cosigned note is for another tree head.")
    witnesses = {(w.name, w.key_id): w for w in _witness_keys(session, at)}
    have = {(s.name, s.key_id) for s in stored.signatures}
    added = [
        s
        for s in offered.signatures
        if (s.name, s.key_id) not in have
        and (s.name, s.key_id) in witnesses
        and witnesses[(s.name, s.key_id)].verify(offered.text, s.signature)
    ]
    if not added and not (have & set(witnesses)):
        raise LedgerSignatureInvalid("No cosignature by a registered witness.")
    merged = SignedNote(stored.text, (*stored.signatures, *added)).render()
    ledger_store.store_cosigned(session, merged)
    return len({(s.name, s.key_id) for s in parse_signed_note(merged).signatures} & set(witnesses))


# --- this institution as a witness -------------------------------------------------------


def _read_state(path: Path) -> dict[str, list[Any]]:
    if not path.exists():
        return {}
    data: dict[str, list[Any]] = json.loads(path.read_text())
    return data


def _write_state(path: Path, state: dict[str, list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    with temp.open("w") as handle:
        json.dump(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def witness_add_checkpoint(
    session: Session,
    me: Institution,
    *,
    old_size: int,
    proof: Sequence[str],
    note: str,
    now: datetime,
) -> str:
    """Cosign a partner log's checkpoint if it extends the last one this witness cosigned
    (C2SP tlog-witness add-checkpoint); answer the cosignature line.

    The log's key comes from the trust registry (``<did>#ledger``, origin
    ``<did>/ledger``). The latest (size, root) per origin is persisted (fsynced) before
    the cosignature is released.
    """
    if me.witness_state is None:
        raise ConfigurationError("This instance has no witness state file.")
    origin = note.split("\n", 1)[0]
    if not origin.endswith("/ledger"):
        raise LedgerNoteMalformed("This witness does not follow that log.")
    log_key = _log_key(session, origin.removesuffix("/ledger"), now)
    if log_key is None:
        raise LedgerNoteMalformed("This witness does not follow that log.")
    checkpoint = open_checkpoint(note, log_key)
    try:
        hashes = [base64.b64decode(p, validate=True) for p in proof]
    except binascii.Error:
        raise BadRequest("Proof hashes are base64.", field="proof") from None
    with _LOCK:
        state = _read_state(me.witness_state)
        size, root_b64 = state.get(origin, [0, base64.b64encode(EMPTY_ROOT).decode()])
        root = base64.b64decode(root_b64)
        if old_size != size or not verify_consistency(
            size, checkpoint.size, root, checkpoint.root_hash, hashes
        ):
            raise LedgerInconsistent(origin=origin, old_size=size, new_size=checkpoint.size)
        state[origin] = [checkpoint.size, base64.b64encode(checkpoint.root_hash).decode()]
        _write_state(me.witness_state, state)
    body = parse_signed_note(note).text
    return me.witness_signer.cosign(body, int(now.timestamp())).line()


# --- verification of any issuer's presentation ------------------------------------------


class _Remote:
    """Fetches a partner's status list and ledger evidence; ours come from the database."""

    def __init__(self, session: Session, me: Institution, http: httpx.Client, now: datetime):
        self.session, self.me, self.http, self.now = session, me, http, now
        self.issuer = ""

    def _base(self, uri: str) -> str:
        base, sep, _ = uri.partition("/v1/status-lists/")
        if not sep:
            raise StatusListInvalid("The status URI is not a realname status list.")
        return base

    def status(self, uri: str, idx: int) -> int:
        if self.issuer == self.me.did:
            return revocation.status_at(self.session, uri, idx)
        try:
            response = self.http.get(uri)
        except httpx.HTTPError as exc:
            raise StatusListInvalid("The status list could not be fetched.") from exc
        if response.status_code != 200:
            raise StatusListInvalid("The status list could not be fetched.")
        token = response.text
        try:
            kid = Jws.parse(token).header.get("kid")
        except SdJwtMalformed as exc:
            raise StatusListInvalid() from exc
        key = DbTrustRegistry(self.session).key_at(self.issuer, str(kid), self.now)
        if key is None or not str(kid).startswith(f"{self.issuer}#"):
            raise StatusListInvalid("The status list is not signed by its issuer.")
        now = int(self.now.timestamp())
        return open_status_list_token(token, uri=uri, key=key, now=now).get(idx)

    def ledger(self, uri: str) -> Any:
        def lookup(digest: bytes) -> LedgerEvidence | None:
            if self.issuer == self.me.did:
                row = _witnessed(self.session) or ledger_store.latest_checkpoint(self.session)
                return None if row is None else _evidence_under(self.session, digest, row)
            try:
                response = self.http.get(
                    f"{self._base(uri)}/v1/ledger/proof/inclusion", params={"hash": digest.hex()}
                )
                if response.status_code != 200:
                    return None
                data = response.json()
                return LedgerEvidence(
                    int(data["event_time"]),
                    int(data["leaf_index"]),
                    int(data["tree_size"]),
                    [base64.b64decode(h, validate=True) for h in data["audit_path"]],
                    str(data["checkpoint"]),
                )
            except (httpx.HTTPError, ValueError, KeyError, TypeError, binascii.Error):
                return None

        return lookup


#: Witnessed checkpoints already checked, shared by every verification in the process.
_CHECKPOINTS = CheckpointCache()


def verify(
    session: Session,
    me: Institution,
    presentation: str,
    *,
    nonce: str,
    audience: str,
    now: datetime,
    http: httpx.Client | None = None,
) -> VerifiedPresentation:
    """Verify a presentation of any registered issuer's credential, or raise its ``VC_*``."""
    ensure_self(session, me, at=now)
    client = http or httpx.Client(timeout=5.0)
    remote = _Remote(session, me, client, now)
    uri = ""
    log_key: NoteVerifier | None = None
    try:
        payload = Jws.parse(SdJwt.parse(presentation).issuer_jwt).payload
        remote.issuer = str(payload.get("iss"))
        uri = str(payload["status"]["status_list"]["uri"])
        log_key = _log_key(session, remote.issuer, now)
    except (SdJwtMalformed, KeyError, TypeError):
        pass  # verify_presentation reports the malformation with its own code
    if log_key is None:
        # An unknown log: a key nobody holds, so the ledger check fails (VC_NOT_IN_LEDGER).
        log_key = NoteVerifier("unknown", Ed25519PrivateKey.generate().public_key())
    try:
        return verify_presentation(
            presentation,
            registry=DbTrustRegistry(session),
            nonce=nonce,
            audience=audience,
            now=int(now.timestamp()),
            status_lookup=remote.status,
            ledger_lookup=remote.ledger(uri),
            log_key=log_key,
            witness_keys=_witness_keys(session, now, exclude=remote.issuer),
            quorum=me.quorum,
            checkpoint_cache=_CHECKPOINTS,
        )
    finally:
        if http is None:
            client.close()
