"""Issue -> present -> verify, and every rejection code, with an in-memory registry and ledger."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from realname.credentials.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from realname.credentials.cosign import CosignatureSigner, Witness
from realname.credentials.events import EventType, LedgerEvent
from realname.credentials.issuer import (
    IssuedCredential,
    IssuerKey,
    credential_hash,
    issue_credential,
)
from realname.credentials.merkle import MerkleLog
from realname.credentials.sdjwt import (
    Disclosure,
    Jws,
    SdJwt,
    b64url_encode,
    make_disclosure,
    sign_jws,
)
from realname.credentials.status_list import STATUS_INVALID, STATUS_VALID
from realname.credentials.verifier import (
    CheckpointCache,
    CredentialRejected,
    LedgerEvidence,
    VerifiedPresentation,
    verify_presentation,
)
from realname.verification.levels import Level

NOW = 1_800_000_000
ISSUER = "did:web:bank-a.example"
VERIFIER = "did:web:bank-b.example"
ORIGIN = "ledger.bank-a.example/log"
STATUS_URI = "https://bank-a.example/status/1"
ID_NUMBER = "11010519491231002X"


@dataclass
class Registry:
    """A trust registry in memory: (did, kid) -> (key, valid_from, valid_until)."""

    issuers: set[str] = field(default_factory=set)
    keys: dict[tuple[str, str], tuple[Ed25519PublicKey, int, int | None]] = field(
        default_factory=dict
    )

    def is_trusted(self, did: str, role: str) -> bool:
        return role == "issuer" and did in self.issuers

    def key_at(self, did: str, kid: str, at: datetime) -> Ed25519PublicKey | None:
        entry = self.keys.get((did, kid))
        if entry is None:
            return None
        key, start, end = entry
        t = at.timestamp()
        return key if start <= t and (end is None or t < end) else None


class World:
    """Issuer A (keys, status list, ledger with two witnesses) and verifier B's view."""

    def __init__(self) -> None:
        self.issuer_key = IssuerKey(ISSUER, f"{ISSUER}#k1", Ed25519PrivateKey.generate())
        self.registry = Registry({ISSUER})
        self.registry.keys[(ISSUER, "did:web:bank-a.example#k1")] = (
            self.issuer_key.private_key.public_key(),
            0,
            None,
        )
        self.holder = Ed25519PrivateKey.generate()
        self.statuses: dict[tuple[str, int], int] = {}
        self.log = MerkleLog()
        self.log_signer = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
        self.witness_signers = [
            CosignatureSigner(f"witness-{i}.example", Ed25519PrivateKey.generate())
            for i in range(3)
        ]
        self.witnesses = [
            Witness(s, {ORIGIN: self.log_signer.verifier}) for s in self.witness_signers
        ]
        self.events: dict[bytes, tuple[int, int]] = {}
        self.note = ""

    def issue(
        self,
        *,
        now: int = NOW - 100,
        key: IssuerKey | None = None,
        index: int = 0,
        ledger: bool = True,
    ) -> IssuedCredential:
        issued = issue_credential(
            key or self.issuer_key,
            holder_key=self.holder.public_key(),
            level=Level.L2,
            verified_at=datetime.fromtimestamp(now - 10, UTC),
            age_over_18=True,
            name="王小明",
            id_number=ID_NUMBER,
            phone_verified=True,
            status_uri=STATUS_URI,
            status_index=index,
            now=now,
        )
        self.statuses[(STATUS_URI, index)] = STATUS_VALID
        if ledger:
            event = LedgerEvent(EventType.ISSUED, issued.credential_hash, now)
            self.events[issued.credential_hash] = (
                self.log.append_leaf_hash(event.leaf_hash()),
                now,
            )
            self.publish(witnesses=2)
        return issued

    def publish(self, *, witnesses: int) -> None:
        note = sign_checkpoint(Checkpoint(ORIGIN, self.log.size, self.log.root()), self.log_signer)
        for witness in self.witnesses[:witnesses]:
            w_old = witness.latest(ORIGIN)[0]
            proof = self.log.consistency_proof(w_old) if w_old else []
            note = witness.add_checkpoint(note, proof, now=NOW)
        self.note = note

    def ledger_lookup(self, digest: bytes) -> LedgerEvidence | None:
        found = self.events.get(digest)
        if found is None:
            return None
        index, at = found
        return LedgerEvidence(at, index, self.log.size, self.log.inclusion_proof(index), self.note)

    def verify(
        self,
        presentation: str,
        *,
        nonce: str = "n-1",
        audience: str = VERIFIER,
        now: int = NOW,
        quorum: int = 2,
        cache: CheckpointCache | None = None,
    ) -> VerifiedPresentation:
        return verify_presentation(
            presentation,
            registry=self.registry,
            nonce=nonce,
            audience=audience,
            now=now,
            status_lookup=lambda uri, idx: self.statuses[(uri, idx)],
            ledger_lookup=self.ledger_lookup,
            log_key=self.log_signer.verifier,
            witness_keys=[s.verifier for s in self.witness_signers],
            quorum=quorum,
            checkpoint_cache=cache,
        )

    def present(
        self,
        issued: IssuedCredential,
        names: tuple[str, ...] = ("name",),
        *,
        nonce: str = "n-1",
        audience: str = VERIFIER,
        iat: int = NOW,
    ) -> str:
        return (
            SdJwt.parse(issued.sd_jwt)
            .select(names)
            .bind(self.holder, nonce=nonce, audience=audience, iat=iat)
        )


@pytest.fixture
def world() -> World:
    return World()


def _code(world: World, presentation: str, **kwargs: object) -> str:
    with pytest.raises(CredentialRejected) as info:
        world.verify(presentation, **kwargs)  # type: ignore[arg-type]
    return info.value.code


def test_round_trip_discloses_only_the_chosen_claims(world: World) -> None:
    issued = world.issue()
    header = Jws.parse(issued.issuer_jwt).header
    assert header == {"typ": "dc+sd-jwt", "kid": f"{ISSUER}#k1", "alg": "EdDSA"}
    result = world.verify(world.present(issued, ()))
    assert result.issuer == ISSUER
    assert result.claims["level"] == "L2"
    assert result.claims["age_over_18"] is True
    assert result.claims["vct"] == "https://realname.dev/vct/identity-verification/v1"
    assert result.claims["status"] == {"status_list": {"idx": 0, "uri": STATUS_URI}}
    assert not {"name", "id_number_masked", "phone_verified"} & result.claims.keys()

    full = world.verify(world.present(issued, ("name", "id_number_masked")))
    assert full.claims["name"] == "王小明"
    assert full.claims["id_number_masked"] == "110105********002X"
    assert "phone_verified" not in full.claims


def test_no_personal_data_in_the_signed_jwt_or_the_ledger(world: World) -> None:
    issued = world.issue()
    payload = json.dumps(Jws.parse(issued.issuer_jwt).payload, ensure_ascii=False)
    assert "王小明" not in payload
    assert ID_NUMBER[6:14] not in payload
    leaf = LedgerEvent(EventType.ISSUED, issued.credential_hash, NOW).data()
    assert leaf.startswith(b"realname-ledger-event/v1\nissued\n")


def test_tampered_disclosure(world: World) -> None:
    issued = world.issue()
    sd = SdJwt.parse(issued.sd_jwt)
    forged = make_disclosure("name", "李四").encoded
    changed = SdJwt(sd.issuer_jwt, (forged,), None).bind(
        world.holder, nonce="n-1", audience=VERIFIER, iat=NOW
    )
    assert _code(world, changed) == "VC_DISCLOSURE_MISMATCH"
    # A Disclosure repeated, or one that tries to overwrite a visible claim.
    name = next(d for d in sd.disclosures if Disclosure.parse(d).name == "name")
    twice = SdJwt(sd.issuer_jwt, (name, name), None).bind(
        world.holder, nonce="n-1", audience=VERIFIER, iat=NOW
    )
    assert _code(world, twice) == "VC_DISCLOSURE_MISMATCH"


def test_wrong_nonce_audience_and_stale_or_foreign_kb(world: World) -> None:
    issued = world.issue()
    assert _code(world, world.present(issued, nonce="other")) == "VC_NONCE_MISMATCH"
    assert _code(world, world.present(issued, audience="did:web:x.example")) == (
        "VC_AUDIENCE_MISMATCH"
    )
    assert _code(world, world.present(issued, iat=NOW - 3600)) == "VC_KB_INVALID"
    no_kb = SdJwt.parse(issued.sd_jwt).select(("name",)).serialize()
    assert _code(world, no_kb) == "VC_KB_INVALID"
    stolen = (
        SdJwt.parse(issued.sd_jwt)
        .select(())
        .bind(Ed25519PrivateKey.generate(), nonce="n-1", audience=VERIFIER, iat=NOW)
    )
    assert _code(world, stolen) == "VC_KB_INVALID"
    # A KB-JWT made for one selection of Disclosures cannot carry another (sd_hash).
    presented = SdJwt.parse(world.present(issued, ("name",)))
    extra = SdJwt.parse(issued.sd_jwt).disclosures
    swapped = SdJwt(presented.issuer_jwt, extra, presented.kb_jwt).serialize()
    assert _code(world, swapped) == "VC_KB_INVALID"


def test_expired_and_not_yet_valid(world: World) -> None:
    issued = world.issue()
    year = 365 * 24 * 3600
    late = world.present(issued, iat=NOW + year)
    assert _code(world, late, now=NOW + year) == "VC_EXPIRED"
    future = world.issue(now=NOW + 3600, index=1)
    assert _code(world, world.present(future)) == "VC_NOT_YET_VALID"


def test_revoked(world: World) -> None:
    issued = world.issue()
    world.statuses[(STATUS_URI, 0)] = STATUS_INVALID
    assert _code(world, world.present(issued)) == "VC_REVOKED"


def test_unknown_issuer_and_forged_signature(world: World) -> None:
    issued = world.issue()
    world.registry.issuers.clear()
    assert _code(world, world.present(issued)) == "VC_ISSUER_UNKNOWN"
    world.registry.issuers.add(ISSUER)
    impostor = IssuerKey(ISSUER, f"{ISSUER}#k1", Ed25519PrivateKey.generate())
    forged = world.issue(key=impostor, index=1)
    assert _code(world, world.present(forged)) == "VC_SIGNATURE_INVALID"
    head, _body, sig = issued.issuer_jwt.split(".")
    payload = Jws.parse(issued.issuer_jwt).payload | {"level": "L3"}
    bumped = f"{head}.{b64url_encode(json.dumps(payload).encode())}.{sig}"
    tampered = SdJwt(bumped, (), None).bind(world.holder, nonce="n-1", audience=VERIFIER, iat=NOW)
    assert _code(world, tampered) == "VC_SIGNATURE_INVALID"
    assert _code(world, "garbage~") == "VC_MALFORMED"


def test_rotation_keeps_old_credentials_verifiable(world: World) -> None:
    old = world.issue(now=NOW - 1000)
    rotated_at = NOW - 500
    key1 = world.registry.keys[(ISSUER, f"{ISSUER}#k1")]
    world.registry.keys[(ISSUER, f"{ISSUER}#k1")] = (key1[0], key1[1], rotated_at)
    new_key = IssuerKey(ISSUER, f"{ISSUER}#k2", Ed25519PrivateKey.generate())
    world.registry.keys[(ISSUER, f"{ISSUER}#k2")] = (
        new_key.private_key.public_key(),
        rotated_at,
        None,
    )
    assert world.verify(world.present(old)).kid == f"{ISSUER}#k1"
    new = world.issue(key=new_key, index=1)
    assert world.verify(world.present(new)).kid == f"{ISSUER}#k2"
    # The retired key cannot issue after the rotation.
    late_old_key = world.issue(index=2)
    assert _code(world, world.present(late_old_key)) == "VC_SIGNATURE_INVALID"


def test_not_in_ledger(world: World) -> None:
    issued = world.issue(ledger=False)
    assert _code(world, world.present(issued)) == "VC_NOT_IN_LEDGER"
    other = world.issue(index=1)
    # Evidence whose event time was rewritten no longer hashes to the included leaf.
    index, at = world.events[other.credential_hash]
    world.events[other.credential_hash] = (index, at + 1)
    assert _code(world, world.present(other)) == "VC_NOT_IN_LEDGER"


def test_checkpoint_not_signed_by_the_log(world: World) -> None:
    issued = world.issue()
    rogue = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    world.note = sign_checkpoint(Checkpoint(ORIGIN, world.log.size, world.log.root()), rogue)
    assert _code(world, world.present(issued)) == "VC_NOT_IN_LEDGER"


def test_too_few_witness_cosignatures(world: World) -> None:
    issued = world.issue()
    assert world.verify(world.present(issued), quorum=2)
    assert _code(world, world.present(issued), quorum=3) == "VC_WITNESS_QUORUM"
    world.publish(witnesses=1)
    assert _code(world, world.present(issued), quorum=2) == "VC_WITNESS_QUORUM"


def test_a_cached_checkpoint_counts_only_for_the_keys_and_quorum_it_was_checked_with(
    world: World,
) -> None:
    issued = world.issue()
    cache = CheckpointCache()
    assert world.verify(world.present(issued), cache=cache)
    assert world.verify(world.present(issued), cache=cache)  # from the cache
    # A stricter quorum, or other witnesses, re-checks the note and fails.
    assert _code(world, world.present(issued), quorum=3, cache=cache) == "VC_WITNESS_QUORUM"
    witnesses = world.witness_signers
    world.witness_signers = [CosignatureSigner("stranger.example", Ed25519PrivateKey.generate())]
    assert _code(world, world.present(issued), cache=cache) == "VC_WITNESS_QUORUM"
    world.witness_signers = witnesses
    # A cached checkpoint still needs the credential's own inclusion proof.
    other = world.issue(index=1)
    index, at = world.events[other.credential_hash]
    world.events[other.credential_hash] = (index, at + 1)
    fresh = CheckpointCache()
    assert world.verify(world.present(issued), cache=fresh)  # the note is cached now
    assert _code(world, world.present(other), cache=fresh) == "VC_NOT_IN_LEDGER"
    # A note that failed is never cached: the rogue note fails every time.
    rogue = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    world.note = sign_checkpoint(Checkpoint(ORIGIN, world.log.size, world.log.root()), rogue)
    for _ in range(2):
        assert _code(world, world.present(issued), cache=fresh) == "VC_NOT_IN_LEDGER"


def test_the_reference_library_leaves_expiry_to_us(world: World) -> None:
    """The ``sd-jwt`` library accepts an expired credential; :func:`verify_presentation`
    checks ``exp``, ``nbf`` and ``iat`` itself (RFC 7519 §4.1.4-4.1.6)."""
    sd_jwt_verifier = pytest.importorskip("sd_jwt.verifier")
    jwk = pytest.importorskip("jwcrypto.jwk")
    year = 365 * 24 * 3600
    issued = world.issue(now=NOW - 2 * year)  # long expired by NOW
    public = jwk.JWK.from_pyca(world.issuer_key.private_key.public_key())
    claims = sd_jwt_verifier.SDJWTVerifier(
        issued.sd_jwt, lambda iss, header: public
    ).get_verified_payload()
    assert claims["exp"] < NOW  # the library raised nothing
    assert _code(world, world.present(issued)) == "VC_EXPIRED"


def test_nbf_in_the_future_is_not_yet_valid(world: World) -> None:
    issued = world.issue()
    jws = Jws.parse(SdJwt.parse(issued.sd_jwt).issuer_jwt)
    payload = {**jws.payload, "nbf": NOW + 3600}
    key = world.issuer_key.private_key
    later = sign_jws(jws.header, payload, key)
    credential = SdJwt(later, SdJwt.parse(issued.sd_jwt).disclosures, None).serialize()
    world.events[credential_hash(later)] = world.events[issued.credential_hash]
    presented = (
        SdJwt.parse(credential)
        .select(())
        .bind(world.holder, nonce="n-1", audience=VERIFIER, iat=NOW)
    )
    assert _code(world, presented) == "VC_NOT_YET_VALID"
    # within the clock skew it is accepted as far as time goes (then fails the ledger:
    # this re-signed credential was never logged under its own hash)
    payload["nbf"] = NOW + 30
    soon = sign_jws(jws.header, payload, key)
    presented = SdJwt(soon, (), None).bind(world.holder, nonce="n-1", audience=VERIFIER, iat=NOW)
    assert _code(world, presented) == "VC_NOT_IN_LEDGER"


def test_reference_library_parses_our_credential(world: World) -> None:
    """The OpenWallet Foundation ``sd-jwt`` verifier, as an independent parser."""
    sd_jwt_verifier = pytest.importorskip("sd_jwt.verifier")
    jwk = pytest.importorskip("jwcrypto.jwk")
    issued = world.issue()
    public = jwk.JWK.from_pyca(world.issuer_key.private_key.public_key())
    verifier = sd_jwt_verifier.SDJWTVerifier(issued.sd_jwt, lambda iss, header: public)
    claims = verifier.get_verified_payload()
    assert claims["name"] == "王小明"
    assert claims["phone_verified"] is True
    assert claims["level"] == "L2"


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"iat": 10**17}, "VC_MALFORMED"),  # an int, but no datetime has that year
        ({"iat": 2**70}, "VC_MALFORMED"),  # beyond 64 bits: read as a float (I-JSON)
        ({"exp": 2**70}, "VC_MALFORMED"),
        ({"status": {"status_list": {"idx": 2**70, "uri": STATUS_URI}}}, "VC_MALFORMED"),
    ],
)
def test_out_of_range_numbers_are_malformed_not_a_crash(
    world: World, claims: dict[str, object], code: str
) -> None:
    """Signed by the trusted issuer yet unusable: a coded rejection, never a 500."""
    issued = world.issue()
    jws = Jws.parse(issued.issuer_jwt)
    odd = sign_jws(jws.header, {**jws.payload, **claims}, world.issuer_key.private_key)
    world.events[credential_hash(odd)] = world.events[issued.credential_hash]
    presented = SdJwt(odd, (), None).bind(world.holder, nonce="n-1", audience=VERIFIER, iat=NOW)
    assert _code(world, presented) == code


def test_a_payload_with_nan_is_malformed(world: World) -> None:
    issued = world.issue()
    head, _body, sig = issued.issuer_jwt.split(".")
    text = json.dumps(Jws.parse(issued.issuer_jwt).payload)[:-1] + ',"score":NaN}'
    odd = SdJwt(f"{head}.{b64url_encode(text.encode())}.{sig}", (), None)
    assert _code(world, odd.bind(world.holder, nonce="n-1", audience=VERIFIER, iat=NOW)) == (
        "VC_MALFORMED"
    )


def test_a_cached_checkpoint_proves_each_credential_from_its_own_leaf(world: World) -> None:
    """The tree nodes a cached checkpoint has proven shorten later proofs but never
    excuse a wrong one: a tampered sibling, a wrong index, or a proof of another
    tree head is refused as without the cache."""
    for i in range(300):
        world.log.append(f"background-{i}".encode())
    first, second = world.issue(index=0), world.issue(index=1)  # leaves 300 and 301
    cache = CheckpointCache()
    assert world.verify(world.present(first), cache=cache)
    assert world.verify(world.present(second), cache=cache)  # meets first's path
    good = world.ledger_lookup(second.credential_hash)
    assert good is not None
    lookup = world.ledger_lookup

    def presented_with(evidence: LedgerEvidence) -> str:
        world.ledger_lookup = lambda digest: evidence  # type: ignore[method-assign]
        try:
            return _code(world, world.present(second), cache=cache)
        finally:
            world.ledger_lookup = lookup  # type: ignore[method-assign]

    proof = list(good.proof)
    for k in range(len(proof)):  # the sibling leaf (below every shared node) and the rest
        tampered = [*proof[:k], bytes(32), *proof[k + 1 :]]
        assert presented_with(replace(good, proof=tampered)) == "VC_NOT_IN_LEDGER"
    assert presented_with(replace(good, index=300)) == "VC_NOT_IN_LEDGER"  # first's index
    assert world.verify(world.present(second), cache=cache)
    # A newer checkpoint is cached with nodes of its own: the proof of the older
    # tree head, sized for it or not, does not pass under it.
    third = world.issue(index=2)
    assert world.verify(world.present(third), cache=cache)
    assert presented_with(replace(good, checkpoint=world.note)) == "VC_NOT_IN_LEDGER"
    newer = world.log.size
    assert presented_with(replace(good, checkpoint=world.note, size=newer)) == "VC_NOT_IN_LEDGER"
    assert world.verify(world.present(second), cache=cache)
