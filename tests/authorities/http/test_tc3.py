"""TC3-HMAC-SHA256: Tencent's worked examples, agreement with the SDK's own signer,
and sign/verify round trips."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tencentcloud.common.sign import Sign

from realname.authorities.sandbox.http import tc3

# Tencent's "Signature v3" document: a CVM DescribeInstances call at 1551113065
# (2019-02-25 UTC), content-type;host signed, with its two published sample keys.
DOC_PAYLOAD = (
    b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
)
DOC_HEADERS = {"content-type": "application/json; charset=utf-8", "host": "cvm.tencentcloudapi.com"}


def test_the_documented_payload_hash_and_canonical_request() -> None:
    assert (
        tc3.payload_hash(DOC_PAYLOAD)
        == "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )
    canonical = tc3.canonical_request(
        "POST", DOC_HEADERS, ["content-type", "host"], tc3.payload_hash(DOC_PAYLOAD)
    )
    assert canonical == (
        "POST\n/\n\ncontent-type:application/json; charset=utf-8\n"
        "host:cvm.tencentcloudapi.com\n\ncontent-type;host\n"
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )
    assert tc3.string_to_sign(1551113065, "2019-02-25/cvm/tc3_request", canonical) == (
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    )


@pytest.mark.parametrize(
    ("secret_id", "secret_key", "expected"),
    [
        (
            "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
            "Gu5t9xGARNpq86cd98joQYCN3*******",
            "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c",
        ),
        (
            "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
        ),
    ],
)
def test_the_documented_signatures(secret_id: str, secret_key: str, expected: str) -> None:
    header = tc3.authorization_header(
        secret_id=secret_id,
        secret_key=secret_key,
        service="cvm",
        timestamp=1551113065,
        headers=DOC_HEADERS,
        payload=DOC_PAYLOAD,
    )
    assert header == (
        f"TC3-HMAC-SHA256 Credential={secret_id}/2019-02-25/cvm/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={expected}"
    )
    parsed = tc3.verify(
        authorization=header,
        timestamp="1551113065",
        headers=DOC_HEADERS,
        payload=DOC_PAYLOAD,
        secrets={secret_id: secret_key},
        service="cvm",
        now=1551113065 + 299,
    )
    assert parsed.signature == expected


@given(
    key=st.text(min_size=1, max_size=40),
    date=st.dates().map(lambda d: d.isoformat()),
    service=st.from_regex(r"[a-z]{2,12}", fullmatch=True),
    message=st.text(max_size=200),
)
def test_signatures_agree_with_the_tencent_sdk(
    key: str, date: str, service: str, message: str
) -> None:
    assert tc3.signature(key, date, service, message) == Sign.sign_tc3(key, date, service, message)


@given(body=st.binary(max_size=300), stamp=st.integers(min_value=10**9, max_value=4 * 10**9))
def test_sign_then_verify_and_any_change_fails(body: bytes, stamp: int) -> None:
    headers = {"content-type": "application/json", "host": "127.0.0.1:8900"}
    secrets = {"AKIDx": "k3y"}
    header = tc3.authorization_header(
        secret_id="AKIDx",
        secret_key="k3y",
        service="faceid",
        timestamp=stamp,
        headers=headers,
        payload=body,
    )

    def check(payload: bytes, when: str = str(stamp), host: str = "127.0.0.1:8900") -> None:
        tc3.verify(
            authorization=header,
            timestamp=when,
            headers={**headers, "host": host},
            payload=payload,
            secrets=secrets,
            service="faceid",
            now=stamp,
        )

    check(body)
    for changed in (body + b" ", hashlib.sha256(body).digest()):
        with pytest.raises(tc3.Tc3Error) as caught:
            check(changed)
        assert caught.value.code == "AuthFailure.SignatureFailure"
    with pytest.raises(tc3.Tc3Error) as moved:
        check(body, host="127.0.0.1:8901")
    assert moved.value.code == "AuthFailure.SignatureFailure"
    with pytest.raises(tc3.Tc3Error) as later:
        check(body, when=str(stamp + 1))
    assert later.value.code == "AuthFailure.SignatureFailure"


def test_header_values_are_trimmed_and_lower_cased() -> None:
    """The canonical headers are lower-cased as the document requires."""
    canonical = tc3.canonical_request(
        "post",
        {"content-type": " Application/JSON ", "host": "FaceID.tencentcloudapi.com"},
        ["content-type", "host"],
        "0" * 64,
    )
    assert canonical.splitlines()[:5] == [
        "POST",
        "/",
        "",
        "content-type:application/json",
        "host:faceid.tencentcloudapi.com",
    ]
