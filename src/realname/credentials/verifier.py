"""Verification of an SD-JWT VC presentation by a partner institution.

:func:`verify_presentation` follows RFC 9901 §7 (SD-JWT processing and key binding),
draft-ietf-oauth-sd-jwt-vc (``typ`` ``dc+sd-jwt``, issuer key from the trust
registry), the Token Status List, and the ledger: the issuance event must be included
under a checkpoint signed by the log and cosigned by a quorum of witnesses (C2SP
tlog-checkpoint and tlog-cosignature). Every rejection raises a subclass of
:class:`CredentialRejected` whose ``code`` names the one check that failed.

Checks are reported in this order, so a presentation that fails several reports the first:
structure, issuer trust, issuer signature (key valid at ``iat``), validity times,
Disclosures, key binding (signature, ``sd_hash``, ``iat``, then nonce and audience),
status, ledger inclusion, witness quorum.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from realname.credentials.checkpoint import (
    Checkpoint,
    LedgerNoteMalformed,
    LedgerSignatureInvalid,
    NoteVerifier,
    open_checkpoint,
)
from realname.credentials.cosign import CosignatureVerifier, verify_quorum
from realname.credentials.events import EventType, event_leaf_hash
from realname.credentials.issuer import SD_JWT_VC_TYP
from realname.credentials.merkle import VerifiedNodes
from realname.credentials.sdjwt import (
    KB_JWT_TYP,
    SD_ALG,
    Disclosure,
    JwsParts,
    SdJwtMalformed,
    b64url_encode,
    eddsa_signed,
    jwk_to_public_key,
    jws_parts,
    sd_jwt_parts,
)
from realname.credentials.status_list import STATUS_VALID
from realname.errors import RealnameError

__all__ = [
    "CachedCheckpoint",
    "CheckpointCache",
    "CredentialRejected",
    "IssuerKeys",
    "LedgerEvidence",
    "VcAudienceMismatch",
    "VcDisclosureMismatch",
    "VcExpired",
    "VcIssuerUnknown",
    "VcKbInvalid",
    "VcMalformed",
    "VcNonceMismatch",
    "VcNotInLedger",
    "VcNotYetValid",
    "VcRevoked",
    "VcSignatureInvalid",
    "VcWitnessQuorum",
    "VerifiedPresentation",
    "verify_presentation",
]


class CredentialRejected(RealnameError):
    """A presentation was rejected; the subclass's ``code`` says which check failed."""

    code: ClassVar[str] = "VC_REJECTED"
    http_status: ClassVar[int] = 422
    default_message: ClassVar[str] = "The credential presentation was rejected."


class VcMalformed(CredentialRejected):
    code = "VC_MALFORMED"
    default_message = "The credential presentation is malformed."


class VcSignatureInvalid(CredentialRejected):
    code = "VC_SIGNATURE_INVALID"
    default_message = "The issuer's signature does not verify with a key valid at issuance."


class VcIssuerUnknown(CredentialRejected):
    code = "VC_ISSUER_UNKNOWN"
    default_message = "The issuer is not a trusted issuer in the registry."


class VcDisclosureMismatch(CredentialRejected):
    code = "VC_DISCLOSURE_MISMATCH"
    default_message = "A disclosure does not match the credential's digests."


class VcKbInvalid(CredentialRejected):
    code = "VC_KB_INVALID"
    default_message = "The key-binding JWT is missing, stale or not signed by the holder key."


class VcNonceMismatch(CredentialRejected):
    code = "VC_NONCE_MISMATCH"
    default_message = "The key-binding JWT answers another nonce."


class VcAudienceMismatch(CredentialRejected):
    code = "VC_AUDIENCE_MISMATCH"
    default_message = "The key-binding JWT is addressed to another verifier."


class VcExpired(CredentialRejected):
    code = "VC_EXPIRED"
    default_message = "The credential has expired."


class VcNotYetValid(CredentialRejected):
    code = "VC_NOT_YET_VALID"
    default_message = "The credential is not valid yet."


class VcRevoked(CredentialRejected):
    code = "VC_REVOKED"
    default_message = "The issuer has revoked the credential."


class VcNotInLedger(CredentialRejected):
    code = "VC_NOT_IN_LEDGER"
    default_message = "The credential's issuance is not proven to be in the ledger."


class VcWitnessQuorum(CredentialRejected):
    code = "VC_WITNESS_QUORUM"
    default_message = "The ledger checkpoint lacks a quorum of witness cosignatures."


class IssuerKeys(Protocol):
    """What the verifier needs from the trust registry."""

    def is_trusted(self, did: str, role: str) -> bool:
        """Whether ``did`` is a registered, active institution holding ``role``."""
        ...

    def key_at(self, did: str, kid: str, at: datetime) -> Ed25519PublicKey | None:
        """The key ``kid`` of ``did`` if it was valid at ``at``; otherwise ``None``."""
        ...


@dataclass(frozen=True)
class LedgerEvidence:
    """The issuance event's place in the ledger and the checkpoint that commits to it."""

    event_time: int
    index: int
    size: int
    proof: Sequence[bytes]
    checkpoint: str


@dataclass(frozen=True, slots=True)
class VerifiedPresentation:
    """The claims a verifier may rely on: always-visible ones plus those disclosed."""

    issuer: str
    kid: str
    claims: dict[str, Any]
    credential_hash: bytes


StatusLookup = Callable[[str, int], int]
LedgerLookup = Callable[[bytes], LedgerEvidence | None]


def _int_claim(payload: dict[str, Any], name: str) -> int:
    value = payload.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise VcMalformed(claim=name)
    return value


def _disclosed_claims(payload: dict[str, Any], disclosures: Sequence[str]) -> dict[str, Any]:
    """Payload plus Disclosures, per RFC 9901 §7.1 steps 3-5 (flat claims only)."""
    if payload.get("_sd_alg", SD_ALG) != SD_ALG:
        raise VcDisclosureMismatch()
    digests = payload.get("_sd", [])
    if not isinstance(digests, list) or (digests and {*map(type, digests)} != {str}):
        raise VcDisclosureMismatch()
    referenced = set(digests)
    if len(referenced) != len(digests):
        raise VcDisclosureMismatch()
    claims = payload.copy()
    claims.pop("_sd", None)
    claims.pop("_sd_alg", None)
    seen: set[str] = set()
    for encoded in disclosures:
        try:
            disclosure = Disclosure.parse(encoded)
        except SdJwtMalformed as exc:
            raise VcDisclosureMismatch() from exc
        digest = disclosure.digest
        # Every Disclosure must be referenced exactly once, and must not overwrite a
        # claim the issuer made always-visible (RFC 9901 §7.1 3.c.ii, 3.c.iii, 4).
        if digest not in referenced or digest in seen or disclosure.name in claims:
            raise VcDisclosureMismatch()
        if disclosure.name in ("_sd", "...", "_sd_alg"):
            raise VcDisclosureMismatch()
        seen.add(digest)
        claims[disclosure.name] = disclosure.value
    return claims


def _key_binding(kb_jwt: str | None, cnf: Any) -> tuple[JwsParts, Ed25519PublicKey] | None:
    """The parsed KB-JWT and the ``cnf`` holder key, or ``None`` if either is malformed."""
    if kb_jwt is None or not isinstance(cnf, dict) or not isinstance(cnf.get("jwk"), dict):
        return None
    try:
        return jws_parts(kb_jwt), jwk_to_public_key(cnf["jwk"])
    except SdJwtMalformed:
        return None


@dataclass(frozen=True)
class CachedCheckpoint:
    """A checkpoint found witnessed, the keys and quorum it was checked with, and the
    tree nodes that inclusion proofs against it have already proven (see
    :class:`~realname.credentials.merkle.VerifiedNodes`)."""

    log_key: NoteVerifier
    witness_keys: tuple[CosignatureVerifier, ...]
    quorum: int
    checkpoint: Checkpoint
    nodes: VerifiedNodes


class CheckpointCache:
    """Checkpoints already opened under a log key and found cosigned by a quorum.

    A log checkpoints about once a second while thousands of presentations cite the
    same note, so its log signature and witness cosignatures need checking once, not
    per presentation. An entry is used only for the very same note text, log key,
    witness keys and quorum it was checked with; only notes that passed every check
    are kept (the most recent ``size``). Each entry also keeps the nodes of its tree
    that inclusion proofs have reached the root through, so that later proofs
    against it stop climbing where they meet one (about 0.3 MB at most per entry).
    """

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._entries: dict[str, CachedCheckpoint] = {}

    def get(
        self,
        note: str,
        log_key: NoteVerifier,
        witness_keys: Sequence[CosignatureVerifier],
        quorum: int,
    ) -> CachedCheckpoint | None:
        entry = self._entries.get(note)
        if (
            entry is None
            or entry.quorum != quorum
            # Identity first: the caller passes the same key objects every time, and
            # the dataclass ``==`` is a Python-level call.
            or (entry.log_key is not log_key and entry.log_key != log_key)
            or entry.witness_keys != tuple(witness_keys)
        ):
            return None
        return entry

    def put(
        self,
        note: str,
        log_key: NoteVerifier,
        witness_keys: Sequence[CosignatureVerifier],
        quorum: int,
        checkpoint: Checkpoint,
        nodes: VerifiedNodes | None = None,
    ) -> None:
        """Keep ``checkpoint``, found witnessed; ``nodes`` must be of its own tree."""
        if nodes is None:
            nodes = VerifiedNodes(checkpoint.size, checkpoint.root_hash)
        elif (nodes.size, nodes.root_hash) != (checkpoint.size, checkpoint.root_hash):
            raise ValueError("the verified nodes are of another tree")
        if note not in self._entries and len(self._entries) >= self._size:
            self._entries.pop(next(iter(self._entries)), None)  # the oldest
        self._entries[note] = CachedCheckpoint(
            log_key, tuple(witness_keys), quorum, checkpoint, nodes
        )


def _check_ledger(
    digest: bytes,
    ledger_lookup: LedgerLookup,
    log_key: NoteVerifier,
    witness_keys: Sequence[CosignatureVerifier],
    quorum: int,
    cache: CheckpointCache | None = None,
) -> None:
    evidence = ledger_lookup(digest)
    if evidence is None:
        raise VcNotInLedger()
    cached = cache.get(evidence.checkpoint, log_key, witness_keys, quorum) if cache else None
    try:
        checkpoint = (
            open_checkpoint(evidence.checkpoint, log_key) if cached is None else cached.checkpoint
        )
        leaf = event_leaf_hash(EventType.ISSUED, digest, evidence.event_time)
    except (LedgerNoteMalformed, LedgerSignatureInvalid, ValueError) as exc:
        raise VcNotInLedger() from exc
    if evidence.size != checkpoint.size:
        raise VcNotInLedger()
    if cached is not None:
        # The note was found witnessed before: its tree's proven nodes shorten the climb.
        if not cached.nodes.verify(leaf, evidence.index, evidence.proof):
            raise VcNotInLedger()
        return
    # A fresh note: its tree's nodes are learnt from this proof, and kept only if
    # the note then proves witnessed.
    nodes = VerifiedNodes(checkpoint.size, checkpoint.root_hash)
    if not nodes.verify(leaf, evidence.index, evidence.proof):
        raise VcNotInLedger()
    if not verify_quorum(evidence.checkpoint, witness_keys, quorum):
        raise VcWitnessQuorum(quorum=quorum)
    if cache is not None:
        cache.put(evidence.checkpoint, log_key, witness_keys, quorum, checkpoint, nodes)


def verify_presentation(
    presentation: str,
    *,
    registry: IssuerKeys,
    nonce: str,
    audience: str,
    now: int,
    status_lookup: StatusLookup,
    ledger_lookup: LedgerLookup,
    log_key: NoteVerifier,
    witness_keys: Sequence[CosignatureVerifier],
    quorum: int,
    kb_max_age: int = 300,
    clock_skew: int = 60,
    checkpoint_cache: CheckpointCache | None = None,
) -> VerifiedPresentation:
    """Verify an SD-JWT VC presentation (SD-JWT+KB) or raise :class:`CredentialRejected`.

    ``status_lookup(uri, idx)`` answers the status from a Status List Token the caller
    fetched and checked (see :func:`~realname.credentials.status_list.open_status_list_token`);
    ``ledger_lookup(credential_hash)`` answers the issuance's inclusion evidence or
    ``None``; ``log_key`` is the ledger's checkpoint key and ``witness_keys`` the
    witnesses of which ``quorum`` must have cosigned the checkpoint;
    ``checkpoint_cache`` skips re-checking the signatures of a checkpoint already
    found witnessed under the same keys.
    """
    # The parts are taken as tuples (sd_jwt_parts, jws_parts) rather than as SdJwt
    # and Jws objects: frozen dataclasses set each field through object.__setattr__,
    # a cost paid three times per presentation for objects read once here.
    try:
        issuer_jwt, disclosures, kb_jwt = sd_jwt_parts(presentation)
        header, payload, signing_input, signature = jws_parts(issuer_jwt)
    except SdJwtMalformed as exc:
        raise VcMalformed() from exc
    if header.get("typ") != SD_JWT_VC_TYP:
        raise VcMalformed(reason="typ")
    issuer, kid = payload.get("iss"), header.get("kid")
    if not isinstance(issuer, str) or not isinstance(kid, str):
        raise VcMalformed(reason="iss/kid")
    iat, exp = _int_claim(payload, "iat"), _int_claim(payload, "exp")
    nbf = _int_claim(payload, "nbf") if "nbf" in payload else None

    if not registry.is_trusted(issuer, "issuer"):
        raise VcIssuerUnknown()
    # The key must have been valid when the credential was issued, so a rotation
    # keeps old credentials verifiable and a retired key cannot issue new ones.
    try:
        issued_at = datetime.fromtimestamp(iat, UTC)
    except (OverflowError, OSError, ValueError) as exc:  # beyond datetime's years 1-9999
        raise VcMalformed(claim="iat") from exc
    key = registry.key_at(issuer, kid, issued_at)
    # The KB-JWT is parsed now and its signature checked right after the issuer's,
    # its outcome reported in the documented order further down: an Ed25519 verify
    # that follows Python work runs slower than in a tight loop (cold CPU caches),
    # so the two run back to back. The ``cnf`` key is used only once the issuer's
    # signature vouches for it.
    binding = _key_binding(kb_jwt, payload.get("cnf"))
    if key is None or not eddsa_signed(header, signing_input, signature, key):
        raise VcSignatureInvalid()
    kb = None
    if binding is not None:
        (kb_header, kb_payload, kb_input, kb_signature), holder_key = binding
        if kb_header.get("typ") == KB_JWT_TYP and eddsa_signed(
            kb_header, kb_input, kb_signature, holder_key
        ):
            kb = kb_payload

    # The reference library leaves exp/nbf/iat unchecked: RFC 7519 §4.1.4-4.1.6 here.
    if exp <= now - clock_skew:
        raise VcExpired()
    if iat > now + clock_skew or (nbf is not None and nbf > now + clock_skew):
        raise VcNotYetValid()

    claims = _disclosed_claims(payload, disclosures)
    # The KB-JWT's sd_hash covers ``<JWT>~<D1>~…~<Dn>~``, which is the presentation
    # itself up to the KB-JWT: hashed from a slice, not re-joined from the parts.
    # The issuer JWT starts that text, and its hash is the ledger's credential hash
    # (issuer.credential_hash): one pass over the JWT serves both digests.
    hashed = hashlib.sha256(issuer_jwt.encode("ascii"))
    digest = hashed.digest()
    hashed.update(
        presentation[len(issuer_jwt) : len(presentation) - len(kb_jwt or "")].encode("ascii")
    )
    # RFC 9901 §7.3 for the KB-JWT found typed and signed by the holder above.
    if kb is None:
        raise VcKbInvalid()
    presented = kb.get("sd_hash")
    if not isinstance(presented, str) or not hmac.compare_digest(
        presented, b64url_encode(hashed.digest())
    ):
        raise VcKbInvalid()
    kb_iat = kb.get("iat")
    # A fresh KB-JWT per request (RFC 9901 §7.3 step 5): old ones cannot be replayed.
    if (
        not isinstance(kb_iat, int)
        or isinstance(kb_iat, bool)
        or not now - kb_max_age <= kb_iat <= now + clock_skew
    ):
        raise VcKbInvalid()
    if kb.get("nonce") != nonce:
        raise VcNonceMismatch()
    if kb.get("aud") != audience:
        raise VcAudienceMismatch()

    status = payload.get("status")
    status_list = status.get("status_list") if isinstance(status, dict) else None
    if not isinstance(status_list, dict):
        raise VcMalformed(reason="status")
    idx, uri = status_list.get("idx"), status_list.get("uri")
    if not isinstance(idx, int) or isinstance(idx, bool) or not isinstance(uri, str):
        raise VcMalformed(reason="status")
    if status_lookup(uri, idx) != STATUS_VALID:
        raise VcRevoked()

    _check_ledger(digest, ledger_lookup, log_key, witness_keys, quorum, checkpoint_cache)
    return VerifiedPresentation(issuer, kid, claims, digest)
