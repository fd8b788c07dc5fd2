"""Issuance of the identity-verification SD-JWT VC (draft-ietf-oauth-sd-jwt-vc).

The issuer-signed JWT has header ``{"alg": "EdDSA", "typ": "dc+sd-jwt", "kid": …}``
and always-visible claims ``vct``, ``iss`` (the issuer's DID), ``iat``, ``exp``,
``level`` (L1–L3), ``verified_at``, ``age_over_18``, ``cnf.jwk`` (the holder's key)
and ``status.status_list`` ``{idx, uri}`` (Token Status List); ``name``, the masked
ID number (JR/T 0171: first 6 and last 4 only) and ``phone_verified`` are
selectively disclosable. The full ID number never enters a credential.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from realname.credentials.sdjwt import (
    SD_ALG,
    SdJwt,
    make_disclosure,
    public_key_to_jwk,
    sign_jws,
)
from realname.identity.masking import mask_id_number
from realname.verification.levels import Level

__all__ = [
    "DISCLOSABLE_CLAIMS",
    "SD_JWT_VC_TYP",
    "VCT_IDENTITY_V1",
    "IssuedCredential",
    "IssuerKey",
    "credential_hash",
    "issue_credential",
]

SD_JWT_VC_TYP = "dc+sd-jwt"
VCT_IDENTITY_V1 = "https://realname.dev/vct/identity-verification/v1"
DISCLOSABLE_CLAIMS = ("name", "id_number_masked", "phone_verified")
DEFAULT_VALIDITY = 365 * 24 * 3600


@dataclass(frozen=True)
class IssuerKey:
    """An institution's signing key and the ``kid`` it is registered under."""

    did: str
    kid: str
    private_key: Ed25519PrivateKey


@dataclass(frozen=True)
class IssuedCredential:
    """The SD-JWT (all Disclosures, no KB-JWT) and what the ledger and status list need."""

    sd_jwt: str
    issuer_jwt: str
    credential_hash: bytes
    status_uri: str
    status_index: int


def credential_hash(issuer_jwt: str) -> bytes:
    """SHA-256 of the issuer-signed JWT: what the ledger records, never the claims."""
    return hashlib.sha256(issuer_jwt.encode("ascii")).digest()


def issue_credential(
    issuer: IssuerKey,
    *,
    holder_key: Ed25519PublicKey,
    level: Level,
    verified_at: datetime,
    age_over_18: bool,
    name: str,
    id_number: str,
    phone_verified: bool,
    status_uri: str,
    status_index: int,
    now: int,
    validity_seconds: int = DEFAULT_VALIDITY,
) -> IssuedCredential:
    """Issue the SD-JWT VC for a person verified to ``level`` (L1 to L3)."""
    if level < Level.L1:
        raise ValueError("a credential attests L1 or higher")
    if verified_at.tzinfo is None:
        raise ValueError("verified_at must be an aware datetime")
    disclosures = [
        make_disclosure("name", name),
        make_disclosure("id_number_masked", mask_id_number(id_number)),
        make_disclosure("phone_verified", phone_verified),
    ]
    payload = {
        "iss": issuer.did,
        "iat": now,
        "exp": now + validity_seconds,
        "vct": VCT_IDENTITY_V1,
        "level": str(level),
        "verified_at": int(verified_at.timestamp()),
        "age_over_18": age_over_18,
        "cnf": {"jwk": public_key_to_jwk(holder_key)},
        "status": {"status_list": {"idx": status_index, "uri": status_uri}},
        "_sd": sorted(d.digest for d in disclosures),
        "_sd_alg": SD_ALG,
    }
    issuer_jwt = sign_jws({"typ": SD_JWT_VC_TYP, "kid": issuer.kid}, payload, issuer.private_key)
    sd_jwt = SdJwt(issuer_jwt, tuple(d.encoded for d in disclosures), None).serialize()
    return IssuedCredential(
        sd_jwt, issuer_jwt, credential_hash(issuer_jwt), status_uri, status_index
    )
