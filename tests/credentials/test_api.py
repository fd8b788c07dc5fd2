"""The credentials API on one instance: issue, witness, verify, revoke, registry, ledger."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from realname.api.app import create_app
from realname.api.context import AppContext
from realname.api.routers import credentials as credentials_router
from realname.authorities.sandbox import SandboxProvider, load_fixture_file
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings, get_settings
from realname.credentials import service
from realname.credentials.checkpoint import Checkpoint, NoteVerifier, parse_signed_note
from realname.credentials.cli import credentials_app
from realname.credentials.cosign import CosignatureSigner, Witness
from realname.credentials.jobs import install_checkpointer
from realname.credentials.merkle import verify_consistency, verify_inclusion
from realname.credentials.sdjwt import SdJwt, public_key_to_jwk
from realname.credentials.status_list import STATUS_INVALID, open_status_list_token
from realname.store.db import upgrade
from tests.api.test_app import _issue_key
from tests.api.test_users import World

FIXTURE = load_fixture_file(
    Path(__file__).resolve().parents[1] / "data" / "scenarios" / "public.yaml"
)
DID = "did:web:bank-a.test"
SCOPES = ["users:write", "users:read", "credentials:issue", "credentials:verify", "registry:admin"]


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


class Bank(World):
    me: service.Institution

    def post(self, path: str, body: dict[str, Any], **kw: Any) -> Any:
        return self.client.post(path, json=body, headers=self.headers, **kw)

    def l2_user(self, user: str | None = None) -> str:
        user = user or self.sign_in("13912345678")
        self.consent(user, ["id", "phone"])
        done = self.post(
            f"/v1/users/{user}/verifications",
            {"name": "王小明", "id_number": "110105199003071239", "phone": "13912345678"},
        )
        assert done.json()["level"] == "L2", done.text
        return user

    def wait_for_size(self, size: int) -> str:
        for _ in range(100):
            response = self.client.get("/v1/ledger/checkpoint")
            if response.status_code == 200:
                note: str = response.text
                if Checkpoint.parse(parse_signed_note(note).text).size >= size:
                    return note
            time.sleep(0.05)
        raise AssertionError("no checkpoint")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'api.db'}")
    upgrade(settings.resolved_database_url)
    return settings


@pytest.fixture
def bank(settings: Settings) -> Iterator[Bank]:
    scenario = FIXTURE.scenario("happy-l2-phone")
    today = FIXTURE.today_for(scenario)
    assert today is not None
    provider = SandboxProvider.for_scenario(scenario, today=today)
    gateway = SandboxSmsGateway(provider.store, provider.world_id)
    context = AppContext.from_settings(settings, provider=provider, sms=gateway)
    key = _issue_key(settings, SCOPES)
    app = create_app(settings, context)
    me = service.Institution(
        DID,
        "Bank A",
        "http://bank-a.test",
        context.vault.keyring.index_key,
        quorum=2,
        witness_state=settings.var_dir / "witness.json",
    )
    setattr(app.state, credentials_router.INSTITUTION_STATE, me)
    install_checkpointer(app, interval=0.05)
    with TestClient(app, raise_server_exceptions=False) as client:
        world = Bank(client, gateway, key)
        world.me = me
        yield world
    context.engine.dispose()


def _witnesses(bank: Bank) -> list[Witness]:
    log = NoteVerifier(bank.me.origin, bank.me.log_signer.private_key.public_key())
    witnesses = []
    for name in ("did:web:w1.test", "did:web:w2.test"):
        signer = CosignatureSigner(f"{name}/witness", Ed25519PrivateKey.generate())
        added = bank.post(
            "/v1/registry/institutions",
            {
                "did": name,
                "name": name,
                "roles": ["witness"],
                "witness_key": b64url(raw(signer.private_key)),
            },
        )
        assert added.status_code == 200, added.text
        witnesses.append(Witness(signer, {bank.me.origin: log}))
    return witnesses


def _present(sd_jwt: str, holder: Ed25519PrivateKey, nonce: str, aud: str) -> str:
    return (
        SdJwt.parse(sd_jwt).select([]).bind(holder, nonce=nonce, audience=aud, iat=int(time.time()))
    )


def test_issue_witness_verify_revoke(bank: Bank) -> None:
    fresh = bank.sign_in("13912345678")
    holder = Ed25519PrivateKey.generate()
    jwk = public_key_to_jwk(holder.public_key())
    refused = bank.post(f"/v1/users/{fresh}/credentials", {"holder_jwk": jwk})
    assert (refused.status_code, refused.json()["code"]) == (409, "STEPS_INCOMPLETE")

    user = bank.l2_user(fresh)
    issued = bank.post(f"/v1/users/{user}/credentials", {"holder_jwk": jwk})
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert "王小明" not in body["sd_jwt"]
    assert "110105199003071239" not in body["sd_jwt"]
    assert body["status_uri"].startswith("http://bank-a.test/v1/status-lists/")

    note = bank.wait_for_size(1)  # the background checkpointer signed it
    presentation = _present(body["sd_jwt"], holder, "n-1", "did:web:bank-b.test")
    request = {"presentation": presentation, "nonce": "n-1", "audience": "did:web:bank-b.test"}
    unwitnessed = bank.post("/v1/credentials/verify", request)
    assert unwitnessed.json()["code"] == "VC_WITNESS_QUORUM"

    cosigned = note
    for witness in _witnesses(bank):
        cosigned = witness.add_checkpoint(cosigned, [])
    merged = bank.post("/v1/ledger/cosignatures", {"checkpoint": cosigned})
    assert merged.json() == {"tree_size": 1, "witnesses": 2}, merged.text

    ok = bank.post("/v1/credentials/verify", request)
    assert ok.status_code == 200, ok.text
    claims = ok.json()["claims"]
    assert (claims["level"], claims["age_over_18"], ok.json()["issuer"]) == ("L2", True, DID)
    assert "name" not in claims
    assert "id_number_masked" not in claims

    wrong = bank.post("/v1/credentials/verify", {**request, "nonce": "n-2"})
    assert (wrong.status_code, wrong.json()["code"]) == (422, "VC_NONCE_MISMATCH")

    digest = bytes.fromhex(body["credential_hash"])
    proof = bank.client.get(f"/v1/ledger/proof/inclusion?hash={digest.hex()}").json()
    head = Checkpoint.parse(parse_signed_note(proof["checkpoint"]).text)
    from realname.credentials.events import EventType, LedgerEvent

    leaf = LedgerEvent(EventType.ISSUED, digest, proof["event_time"]).leaf_hash()
    path = [base64.b64decode(h) for h in proof["audit_path"]]
    assert verify_inclusion(leaf, proof["leaf_index"], head.size, path, head.root_hash)

    revoked = bank.post(
        "/v1/credentials/revoke", {"credential_hash": body["credential_hash"], "reason": "fraud"}
    )
    assert revoked.status_code == 200, revoked.text
    again = bank.post(
        "/v1/credentials/revoke", {"credential_hash": body["credential_hash"], "reason": "fraud"}
    )
    assert again.status_code == 409
    assert bank.post("/v1/credentials/verify", request).json()["code"] == "VC_REVOKED"

    token = bank.client.get(body["status_uri"].removeprefix("http://bank-a.test"))
    assert token.headers["content-type"].startswith("application/statuslist+jwt")
    key = bank.me.issuer_private_key(1).public_key()
    statuses = open_status_list_token(
        token.text, uri=body["status_uri"], key=key, now=int(time.time())
    )
    assert statuses.get(body["status_index"]) == STATUS_INVALID

    new_note = bank.wait_for_size(2)
    new = Checkpoint.parse(parse_signed_note(new_note).text)
    consistency = bank.client.get("/v1/ledger/proof/consistency?old=1&new=2").json()
    hashes = [base64.b64decode(h) for h in consistency["proof"]]
    assert verify_consistency(1, 2, head.root_hash, new.root_hash, hashes)


def test_scopes_and_public_endpoints(bank: Bank, settings: Settings) -> None:
    reader = {"Authorization": f"Bearer {_issue_key(settings, ['users:read'])}"}
    request = {"presentation": "x~", "nonce": "n", "audience": "a"}
    assert bank.client.post("/v1/credentials/verify", json=request).status_code == 401
    forbidden = bank.client.post("/v1/credentials/verify", json=request, headers=reader)
    assert forbidden.status_code == 403
    malformed = bank.post("/v1/credentials/verify", request)
    assert (malformed.status_code, malformed.json()["code"]) == (422, "VC_MALFORMED")
    assert bank.client.get("/v1/registry/institutions", headers=reader).status_code == 403
    unknown = bank.post(
        "/v1/credentials/revoke", {"credential_hash": "00" * 32, "reason": "erasure"}
    )
    assert unknown.status_code == 404


def test_registry_rotation_keeps_old_credentials_verifiable(bank: Bank) -> None:
    user = bank.l2_user()
    holder = Ed25519PrivateKey.generate()
    jwk = public_key_to_jwk(holder.public_key())
    first = bank.post(f"/v1/users/{user}/credentials", {"holder_jwk": jwk}).json()
    witnesses = _witnesses(bank)
    note = bank.wait_for_size(1)
    for witness in witnesses:
        note = witness.add_checkpoint(note, [])
    bank.post("/v1/ledger/cosignatures", {"checkpoint": note})

    time.sleep(1.01)  # key validity has a one-second grain (iat)
    k2 = Ed25519PrivateKey.generate()
    rotated = bank.post(
        "/v1/registry/keys/rotate",
        {"did": "did:web:w1.test", "kid": "did:web:w1.test#k2", "public_key": b64url(raw(k2))},
    )
    assert rotated.status_code == 200, rotated.text
    kids = {k["kid"]: k for k in rotated.json()["keys"]}
    assert kids["did:web:w1.test#witness"]["valid_until"] is None  # other purposes stay open
    factory = bank.client.app.state.context.session_factory  # type: ignore[attr-defined]
    with factory.begin() as session:
        kid = service.rotate_own_key(session, bank.me, at=datetime.now(UTC))
    assert kid == f"{DID}#k2"
    second = bank.post(f"/v1/users/{user}/credentials", {"holder_jwk": jwk}).json()
    note2 = bank.wait_for_size(2)
    proof = bank.client.get("/v1/ledger/proof/consistency?old=1&new=2").json()["proof"]
    for witness in witnesses:
        note2 = witness.add_checkpoint(note2, [base64.b64decode(h) for h in proof])
    bank.post("/v1/ledger/cosignatures", {"checkpoint": note2})
    for credential in (first, second):
        presentation = _present(credential["sd_jwt"], holder, "n", "aud")
        verified = bank.post(
            "/v1/credentials/verify",
            {"presentation": presentation, "nonce": "n", "audience": "aud"},
        )
        assert verified.status_code == 200, verified.text
    assert verified.json()["kid"] == f"{DID}#k2"

    retired = bank.post(
        "/v1/registry/keys/retire", {"did": "did:web:w1.test", "kid": "did:web:w1.test#k2"}
    )
    assert retired.status_code == 200, retired.text
    assert {k["kid"]: k for k in retired.json()["keys"]}["did:web:w1.test#k2"]["valid_until"]


def test_cli_institutions_and_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REALNAME_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("REALNAME_DATABASE_URL", raising=False)
    monkeypatch.delenv("REALNAME_MASTER_KEY", raising=False)
    monkeypatch.setenv("REALNAME_PUBLIC_URL", "https://bank-a.test")
    get_settings.cache_clear()
    try:
        upgrade(get_settings().resolved_database_url)
        runner = CliRunner()
        key = b64url(raw(Ed25519PrivateKey.generate()))
        added = runner.invoke(
            credentials_app,
            [
                "institution",
                "add",
                "did:web:bank-b.test",
                "--name",
                "Bank B",
                "--role",
                "issuer",
                "--role",
                "witness",
                "--signing-key",
                key,
                "--witness-key",
                key,
            ],
        )
        assert added.exit_code == 0, added.output
        duplicate = runner.invoke(
            credentials_app,
            ["institution", "add", "did:web:bank-b.test", "--name", "B", "--role", "issuer"],
        )
        assert duplicate.exit_code == 1
        assert "CONFLICT" in duplicate.output
        too_soon = runner.invoke(credentials_app, ["institution", "rotate", "self"])
        assert "KEY_INTERVAL_INVALID" in too_soon.output  # k1 would open this very second
        assert runner.invoke(credentials_app, ["institution", "list"]).exit_code == 0
        time.sleep(1.01)
        rotated = runner.invoke(credentials_app, ["institution", "rotate", "self"])
        assert rotated.exit_code == 0
        assert "did:web:bank-a.test#k2" in rotated.output
        retired = runner.invoke(
            credentials_app,
            ["institution", "retire", "did:web:bank-b.test", "--kid", "did:web:bank-b.test#k1"],
        )
        assert retired.exit_code == 0, retired.output
        listed = runner.invoke(credentials_app, ["institution", "list"])
        assert "bank-b.test#witness" in listed.output
        assert "bank-a.test#k2" in listed.output
        empty = runner.invoke(credentials_app, ["checkpoint"])
        assert empty.exit_code == 0
        assert empty.output.startswith("did:web:bank-a.test/ledger\n0\n")
        bad = tmp_path / "p.txt"
        bad.write_text("not-a-presentation")
        rejected = runner.invoke(
            credentials_app, ["verify", str(bad), "--nonce", "n", "--aud", "a"]
        )
        assert rejected.exit_code == 1
        assert "VC_MALFORMED" in rejected.output
    finally:
        get_settings.cache_clear()


def test_every_credentials_request_body_has_an_example(bank: Bank) -> None:
    document = bank.client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    bodies = [
        (path, op["requestBody"])
        for path, ops in document["paths"].items()
        for op in ops.values()
        if "requestBody" in op and ("credentials" in path or "registry" in path or "ledger" in path)
    ]
    assert len(bodies) >= 8
    for path, body in bodies:
        ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        assert schemas[ref].get("examples"), path
