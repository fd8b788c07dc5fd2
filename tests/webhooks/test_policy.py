"""Where webhooks may go, and the retry schedule (pure)."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realname.webhooks import policy
from realname.webhooks.errors import WebhookUrlRejected


@pytest.mark.parametrize(
    "url",
    [
        "https://lender.example/hooks",
        "https://lender.example:8443/hooks?tenant=7",
        "http://127.0.0.1:8080/hooks",
        "http://127.8.9.10/hooks",
        "http://localhost:9000/",
        "http://[::1]:9000/hooks",
        "https://[2001:db8::1]/hooks",
    ],
)
def test_accepted_urls(url: str) -> None:
    assert policy.check_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "",
        "http://lender.example/hooks",  # plain http off loopback
        "http://10.0.0.5/hooks",
        "http://localhost.evil.example/hooks",
        "ftp://lender.example/hooks",
        "https://user:secret@lender.example/hooks",  # credentials would be stored
        "https://lender.example/hooks#fragment",
        "https:///no-host",
        "https://lender.example:99999/",
        "javascript:alert(1)",
        "https://lender.example/" + "a" * 2048,
    ],
)
def test_rejected_urls(url: str) -> None:
    with pytest.raises(WebhookUrlRejected) as info:
        policy.check_url(url)
    assert "secret" not in info.value.message


def test_retries_wait_longer_each_time_and_stop_after_eight_attempts() -> None:
    for seed in range(50):
        rng = random.Random(seed)
        delays = [policy.retry_delay(attempt, rng) for attempt in range(1, policy.MAX_ATTEMPTS)]
        assert all(delay is not None for delay in delays)
        assert delays == sorted(delays)  # type: ignore[type-var]
        assert len(set(delays)) == len(delays)
    assert policy.MAX_ATTEMPTS == 8
    assert policy.retry_delay(policy.MAX_ATTEMPTS) is None


@given(attempt=st.integers(min_value=1, max_value=policy.MAX_ATTEMPTS - 1), seed=st.integers())
def test_jitter_stays_within_twenty_percent(attempt: int, seed: int) -> None:
    delay = policy.retry_delay(attempt, random.Random(seed))
    base = policy.RETRY_DELAYS[attempt - 1]
    assert delay is not None
    assert base * 0.8 <= delay <= base * 1.2
    assert delay >= timedelta(seconds=24)


def test_attempts_are_numbered_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        policy.retry_delay(0)
