"""Run one scenario's submission through the v1 API, as a client would.

Shared by the scenario tests (every cause code over HTTP) and the operations
metrics seeding: consents, the verification, and — when the answer asks for it —
the SMS proof of the phone followed by the verification again.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from fastapi.testclient import TestClient

from realname.authorities.face import face_capture
from realname.authorities.sandbox.fixtures import Scenario
from realname.authorities.sandbox.sms import SandboxSmsGateway

ALL_CONSENTS = ["id", "phone", "bank_card", "face"]


def sms_code(gateway: SandboxSmsGateway, phone: str) -> str:
    """The six-digit code of the last SMS the sandbox gateway sent to ``phone``."""
    found = re.search(r"\d{6}", gateway.messages_to(phone)[-1].text)
    assert found is not None
    return found[0]


def submit_scenario(
    client: TestClient,
    headers: dict[str, str],
    gateway: SandboxSmsGateway,
    scenario: Scenario,
    user: str,
) -> dict[str, Any]:
    """Consent and verify ``user`` with the scenario's submission; the final answer."""
    submit = scenario.submit
    kinds = [c.value for c in submit.consent] if submit.consent is not None else ALL_CONSENTS
    if kinds:
        client.post(f"/v1/users/{user}/consents", json={"kinds": kinds}, headers=headers)
    body: dict[str, object] = {
        "product": f"level-{scenario.product_level.value}",
        "name": submit.name,
        "id_number": submit.id_number,
        "phone": submit.phone,
        "bank_card": submit.bank_card,
    }
    if submit.face is not None:
        capture = face_capture(submit.face)
        body["face"] = {
            "media_type": capture.media_type,
            "content_base64": base64.b64encode(capture.content).decode(),
        }
    answer = client.post(f"/v1/users/{user}/verifications", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    if result["phone_challenge"]:
        proved = client.post(
            f"/v1/users/{user}/phones/prove",
            json={
                "challenge_id": result["phone_challenge"]["challenge_id"],
                "code": sms_code(gateway, str(submit.phone)),
            },
            headers=headers,
        )
        assert proved.status_code == 200, proved.text
        again = client.post(f"/v1/users/{user}/verifications", json=body, headers=headers)
        assert again.status_code == 200, again.text
        result = again.json()
    return result
