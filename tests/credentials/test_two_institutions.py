"""Two institutions on loopback: A issues, witnesses cosign A's ledger, B verifies, A revokes.

Each institution is a realname app with its own database and keyring, served by
uvicorn in a thread on 127.0.0.1; B fetches A's status list and ledger proofs over
real HTTP. A third witness runs in process (:class:`~realname.credentials.cosign.Witness`).
"""

from __future__ import annotations

import base64
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from realname.api.app import create_app
from realname.api.context import AppContext
from realname.api.routers import credentials as credentials_router
from realname.authorities.sandbox import SandboxProvider, load_fixture_file
from realname.authorities.sandbox.sms import SandboxSmsGateway
from realname.config import Settings
from realname.credentials import service
from realname.credentials.checkpoint import (
    Checkpoint,
    NoteVerifier,
    parse_signed_note,
    sign_checkpoint,
)
from realname.credentials.cosign import CosignatureSigner, LedgerInconsistent, Witness
from realname.credentials.jobs import install_checkpointer
from realname.credentials.sdjwt import SdJwt, public_key_to_jwk
from realname.store.db import upgrade
from tests.api.test_app import _issue_key

FIXTURE = load_fixture_file(
    Path(__file__).resolve().parents[1] / "data" / "scenarios" / "public.yaml"
)
SCOPES = ["users:write", "users:read", "credentials:issue", "credentials:verify", "registry:admin"]


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Instance:
    me: service.Institution
    http: httpx.Client
    server: uvicorn.Server
    thread: threading.Thread
    context: AppContext
    gateway: SandboxSmsGateway

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(path, json=body)

    def own_keys(self) -> dict[str, str]:
        """This institution's public keys as its registry publishes them, and valid_from."""
        listed = self.http.get("/v1/registry/institutions")
        assert listed.status_code == 200, listed.text
        [own] = [i for i in listed.json() if i["did"] == self.me.did]
        keys = {k["kid"].partition("#")[2]: k["public_key"] for k in own["keys"]}
        return keys | {"valid_from": own["keys"][0]["valid_from"]}

    def checkpoint(self, size: int) -> str:
        for _ in range(100):
            response = self.http.get("/v1/ledger/checkpoint")
            ok = response.status_code == 200
            if ok and Checkpoint.parse(parse_signed_note(response.text).text).size >= size:
                return response.text
            time.sleep(0.05)
        raise AssertionError("no checkpoint")


def _start(tmp_path: Path, name: str) -> Instance:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    var = tmp_path / name
    settings = Settings(var_dir=var, database_url=f"sqlite:///{var / 'realname.db'}")
    var.mkdir()
    upgrade(settings.resolved_database_url)
    scenario = FIXTURE.scenario("happy-l2-phone")
    today = FIXTURE.today_for(scenario)
    assert today is not None
    provider = SandboxProvider.for_scenario(scenario, today=today)
    gateway = SandboxSmsGateway(provider.store, provider.world_id)
    context = AppContext.from_settings(settings, provider=provider, sms=gateway)
    base_url = f"http://127.0.0.1:{port}"
    me = service.Institution(
        service.did_web_for(base_url),
        f"Bank {name}",
        base_url,
        context.vault.keyring.index_key,
        quorum=2,
        witness_state=var / "witness.json",
    )
    app = create_app(settings, context)
    app.include_router(credentials_router.router)
    setattr(app.state, credentials_router.INSTITUTION_STATE, me)
    install_checkpointer(app, interval=0.05)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.02)
    key = _issue_key(settings, SCOPES)
    http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10.0)
    return Instance(me, http, server, thread, context, gateway)


@pytest.fixture
def banks(tmp_path: Path) -> Iterator[tuple[Instance, Instance]]:
    a, b = _start(tmp_path, "A"), _start(tmp_path, "B")
    try:
        yield a, b
    finally:
        for instance in (a, b):
            instance.server.should_exit = True
            instance.thread.join(5)
            instance.http.close()
            instance.context.engine.dispose()


def _l2_user(a: Instance) -> str:
    phone = "13912345678"
    started = a.post("/v1/users/sign-in", {"phone": phone}).json()
    text = a.gateway.messages_to(phone)[-1].text
    code = re.search(r"\d{6}", text)
    assert code is not None
    user: str = a.post(
        "/v1/users/sign-in/verify",
        {"phone": phone, "challenge_id": started["challenge_id"], "code": code[0]},
    ).json()["user_id"]
    assert a.post(f"/v1/users/{user}/consents", {"kinds": ["id", "phone"]}).status_code == 200
    done = a.post(
        f"/v1/users/{user}/verifications",
        {"name": "王小明", "id_number": "110105199003071239", "phone": phone},
    )
    assert done.json()["level"] == "L2", done.text
    return user


def _cosign(a: Instance, b: Instance, w3: Witness, note: str, old: int) -> str:
    """Both witnesses check consistency from ``old`` and cosign; A stores the result."""
    proof: list[str] = []
    size = Checkpoint.parse(parse_signed_note(note).text).size
    if old:
        proof = a.http.get(f"/v1/ledger/proof/consistency?old={old}&new={size}").json()["proof"]
    line = b.post(
        "/v1/ledger/witness/add-checkpoint", {"old": old, "proof": proof, "checkpoint": note}
    )
    assert line.status_code == 200, line.text
    cosigned = w3.add_checkpoint(note + line.text, [base64.b64decode(p) for p in proof])
    stored = a.post("/v1/ledger/cosignatures", {"checkpoint": cosigned})
    assert stored.json() == {"tree_size": size, "witnesses": 2}, stored.text
    return cosigned


def test_a_issues_witnesses_cosign_b_verifies_a_revokes(
    banks: tuple[Instance, Instance],
) -> None:
    a, b = banks
    a_keys, b_keys = a.own_keys(), b.own_keys()
    w3_signer = CosignatureSigner("did:web:w3.test/witness", Ed25519PrivateKey.generate())
    w3_key = b64url(w3_signer.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    # Each registry lists the partner and the third witness (registry:admin over the API).
    for registry, entry in (
        (b, {"did": a.me.did, "name": "Bank A", "roles": ["issuer"],
             "signing_key": a_keys["k1"], "ledger_key": a_keys["ledger"],
             "valid_from": a_keys["valid_from"]}),
        (b, {"did": "did:web:w3.test", "name": "W3", "roles": ["witness"], "witness_key": w3_key}),
        (a, {"did": b.me.did, "name": "Bank B", "roles": ["verifier", "witness"],
             "witness_key": b_keys["witness"]}),
        (a, {"did": "did:web:w3.test", "name": "W3", "roles": ["witness"], "witness_key": w3_key}),
    ):  # fmt: skip
        added = registry.post("/v1/registry/institutions", entry)
        assert added.status_code == 200, added.text
    a_log = NoteVerifier(
        a.me.origin, Ed25519PublicKey.from_public_bytes(b64url_decode(a_keys["ledger"]))
    )
    w3 = Witness(w3_signer, {a.me.origin: a_log})

    # A verifies a user to L2 and issues to the holder's wallet key.
    holder = Ed25519PrivateKey.generate()
    user = _l2_user(a)
    issued = a.post(
        f"/v1/users/{user}/credentials", {"holder_jwk": public_key_to_jwk(holder.public_key())}
    )
    assert issued.status_code == 200, issued.text
    credential = issued.json()

    # A's checkpointer signs the issuance within a second; B and W3 cosign it.
    first = _cosign(a, b, w3, a.checkpoint(1), old=0)
    assert len(parse_signed_note(a.http.get("/v1/ledger/checkpoint").text).signatures) == 3

    # The holder shows B only what is always visible: level and age_over_18.
    nonce = "b-nonce-1"

    def present() -> dict[str, str]:
        shown = SdJwt.parse(credential["sd_jwt"]).select([])
        kb = shown.bind(holder, nonce=nonce, audience=b.me.did, iat=int(time.time()))
        return {"presentation": kb, "nonce": nonce, "audience": b.me.did}

    accepted = b.post("/v1/credentials/verify", present())
    assert accepted.status_code == 200, accepted.text
    claims = accepted.json()["claims"]
    assert accepted.json()["issuer"] == a.me.did
    assert (claims["level"], claims["age_over_18"]) == ("L2", True)
    assert not {"name", "id_number_masked", "phone_verified"} & set(claims)

    # A revokes; B, fetching A's status list over HTTP, now rejects.
    revoked = a.post(
        "/v1/credentials/revoke",
        {"credential_hash": credential["credential_hash"], "reason": "phone_reissued"},
    )
    assert revoked.status_code == 200, revoked.text
    rejected = b.post("/v1/credentials/verify", present())
    assert (rejected.status_code, rejected.json()["code"]) == (422, "VC_REVOKED")

    # The revocation checkpoint extends the witnessed one: cosigned again.
    _cosign(a, b, w3, a.checkpoint(2), old=1)

    # A fork: A's log key signs another tree of size 2. Both witnesses refuse it.
    head = Checkpoint.parse(parse_signed_note(first).text)
    fork = sign_checkpoint(Checkpoint(head.origin, 2, b"\x07" * 32), a.me.log_signer)
    refused = b.post(
        "/v1/ledger/witness/add-checkpoint", {"old": 2, "proof": [], "checkpoint": fork}
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "LEDGER_INCONSISTENT")
    with pytest.raises(LedgerInconsistent):
        w3.add_checkpoint(fork, [])
    stale = b.post("/v1/ledger/witness/add-checkpoint", {"old": 1, "proof": [], "checkpoint": fork})
    assert stale.json()["code"] == "LEDGER_INCONSISTENT"
