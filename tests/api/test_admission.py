"""The admission limit: so many requests in flight, the rest wait their turn in order."""

from __future__ import annotations

import asyncio

import pytest

from realname.api.admission import Admission


async def _run(admission: Admission, count: int) -> tuple[int, list[int]]:
    most = 0
    order: list[int] = []

    async def request(number: int) -> None:
        nonlocal most
        async with admission.slot():
            order.append(number)
            most = max(most, admission.in_flight)
            await asyncio.sleep(0.01)  # an authority's answer

    await asyncio.gather(*(request(number) for number in range(count)))
    return most, order


def test_no_more_than_the_limit_are_in_flight_and_waiters_go_in_order() -> None:
    admission = Admission(3)
    most, order = asyncio.run(_run(admission, 10))
    assert most == 3
    assert order == list(range(10))  # first come, first served
    assert admission.in_flight == 0


def test_one_admission_serves_one_loop_after_another() -> None:
    # An app outlives an event loop in tests and CLI runs: each loop gets its own queue.
    admission = Admission(2)
    assert asyncio.run(_run(admission, 4))[0] == 2
    assert asyncio.run(_run(admission, 4))[0] == 2


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Admission(0)


@pytest.mark.parametrize(
    ("method", "path", "admitted"),
    [
        ("POST", "/v1/users/u1/verifications", True),
        ("POST", "/v1/users/u1/phone-change", True),
        ("POST", "/v1/users/u1/face/sessions/s1/frames", True),
        ("GET", "/v1/users/u1/status", False),
        ("POST", "/v1/users/sign-in", False),
    ],
)
def test_only_verifying_requests_wait_for_a_place(method: str, path: str, admitted: bool) -> None:
    from realname.api.admission import AdmissionMiddleware

    admission = Admission(1)
    seen: list[int] = []

    async def app(scope: object, receive: object, send: object) -> None:
        seen.append(admission.in_flight)

    async def call() -> None:
        middleware = AdmissionMiddleware(app, admission)
        scope = {"type": "http", "method": method, "path": path}
        await middleware(scope, None, None)  # type: ignore[arg-type]

    asyncio.run(call())
    assert seen == [1 if admitted else 0]
    assert admission.in_flight == 0
