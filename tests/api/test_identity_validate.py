"""POST /v1/identity/validate: local checks that say which part is wrong, masked output."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from stdnum.cn import ric

from realname.config import Settings
from tests.api.test_app import _issue_key


@pytest.fixture
def headers(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {_issue_key(settings, ['identity:validate'])}"}


def test_valid_elements_come_back_masked(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(
        "/v1/identity/validate",
        json={
            "name": "陳國華",
            "id_number": "110105700101803",
            "phone": "+86 139-1234-5678",
            "bank_card": "6222 0212 3456 7890 128",
        },
        headers=headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is True
    fields = body["fields"]
    assert fields["name"]["masked"] == "陳*華"
    assert fields["id_number"]["masked"] == "110105********803X"
    assert fields["id_number"]["facts"]["upgraded_from_15_digits"] is True
    assert fields["phone"]["masked"] == "139****5678"
    assert fields["phone"]["facts"]["carrier"] == "cmcc"
    assert fields["bank_card"]["facts"]["bank_code"] == "ICBC"
    assert "12345678" not in response.text
    assert "19700101" not in response.text


@pytest.mark.parametrize(
    ("field", "value", "detail"),
    [
        ("id_number", "110105199003071238", "checksum"),
        # Feb 30 with a correct check character (stdnum ignores the last digit given).
        ("id_number", "11010519900230123" + ric.calc_check_digit("110105199002301230"), "birth_date"),  # noqa: E501
        ("id_number", "12345678", "length"),
        ("name", "王2明", "digits"),
        ("phone", "010-62345678", "not_mobile"),
        ("bank_card", "6222021234567890129", "checksum"),
    ],
)
def test_invalid_element_names_the_part(
    client: TestClient, headers: dict[str, str], field: str, value: str, detail: str
) -> None:
    response = client.post("/v1/identity/validate", json={field: value}, headers=headers)
    assert response.status_code == 200
    report = response.json()["fields"][field]
    assert report["valid"] is False
    assert report["detail"] == detail
    assert report["code"].endswith("_INVALID")
    assert value not in response.text


def test_malformed_bodies_are_problems(client: TestClient, headers: dict[str, str]) -> None:
    not_json = client.post(
        "/v1/identity/validate",
        content=b"{not json",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
    assert not_json.json()["code"] == "MALFORMED_JSON"

    wrong_type = client.post("/v1/identity/validate", json={"phone": 13912345678}, headers=headers)
    assert wrong_type.status_code == 422
    problem = wrong_type.json()
    assert problem["code"] == "VALIDATION_ERROR"
    assert problem["errors"][0]["field"] == "phone"
    assert "13912345678" not in wrong_type.text

    unknown = client.post("/v1/identity/validate", json={"passport": "x"}, headers=headers)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "passport"

    not_object = client.post("/v1/identity/validate", json=[1, 2], headers=headers)
    assert not_object.status_code == 422


def test_scope_is_enforced(client: TestClient, settings: Settings) -> None:
    other = {"Authorization": f"Bearer {_issue_key(settings, ['status:read'])}"}
    response = client.post("/v1/identity/validate", json={"name": "王明"}, headers=other)
    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"
