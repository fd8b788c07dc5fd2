"""The face page without a browser: sign-in, consent with CSRF, readiness, JSON guards."""

from __future__ import annotations

import re

from tests.web.test_borrower_pages import Borrower, borrower  # noqa: F401 - fixture


def _data_csrf(html: str) -> str:
    found = re.search(r'data-csrf="([0-9a-f]+)"', html)
    assert found is not None
    return found[1]


def test_signed_out_visitors_are_sent_to_sign_in(borrower: Borrower) -> None:  # noqa: F811
    response = borrower.client.get("/face", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/?expired=1")


def test_face_consent_is_asked_separately_and_needs_the_csrf_token(
    borrower: Borrower,  # noqa: F811
) -> None:
    borrower.sign_in()
    borrower.consent(["id", "phone"])
    page = borrower.client.get("/face")
    assert 'id="face-consent"' in page.text
    assert "人脸信息属于敏感个人信息" in page.text
    assert "只保留检测数值" in page.text
    forged = borrower.client.post("/face/consent", data={"csrf": "0" * 32})
    assert 'id="face-consent"' in forged.text
    agreed = borrower.client.post("/face/consent", data={"csrf": borrower.csrf(page.text)})
    # Consent given, but identity is not verified yet: the page says what comes first.
    assert 'id="face-not-ready"' in agreed.text
    assert 'href="/identity?lang=zh-CN"' in agreed.text
    english = borrower.client.get("/face?lang=en")
    assert "Verify your identity details (L2) before the face check." in english.text


def test_the_json_endpoints_need_the_csrf_header_and_l2(borrower: Borrower) -> None:  # noqa: F811
    borrower.sign_in()
    borrower.consent(["id", "phone", "face"])
    page = borrower.client.get("/face")
    refused = borrower.client.post("/face/sessions", json={})
    assert refused.status_code == 403
    assert refused.json()["error"] == "csrf"
    early = borrower.client.post(
        "/face/sessions", json={}, headers={"X-CSRF-Token": _data_csrf(page.text)}
    )
    assert early.status_code == 409
    assert early.json()["error"] == "STEPS_INCOMPLETE"
    borrower.client.cookies.clear()
    signed_out = borrower.client.post("/face/sessions/x/frames", json={"nonce": "n", "frames": []})
    assert signed_out.status_code == 401
