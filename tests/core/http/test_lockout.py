"""Issue 9, finding 1: the login budget holds under a parallel burst of guesses.

The attack: 100 wrong passwords for one user sent at once were all hashed (the lock was
checked before the slow scrypt check, failures counted after it), and the right password
sent in the same burst got 200. A slot of the budget is now taken before hashing, per
user and per client address, so concurrent requests cannot all pass the check.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import anyio
import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient

from gatehouse.core.http.runtime import HttpRuntime
from gatehouse.core.testing import wait_until
from httpkit import OWNER

pytestmark = pytest.mark.anyio

Client = TestClient[Any, Any]

WRONG = {"username": "owner", "password": "wrong password"}
RIGHT = {"username": "owner", "password": OWNER["password"]}
BUDGET = 5  # the default login_attempts_threshold


def _failed_login_lines(caplog: pytest.LogCaptureFixture) -> int:
    return sum("Failed login for user" in r.getMessage() for r in caplog.records)


async def test_a_parallel_burst_hashes_at_most_the_budget_and_refuses_the_right_password(
    anon: ClientSession, runtime: HttpRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    wrong: list[int] = []
    right: list[int] = []

    async def attempt(body: dict[str, str], into: list[int]) -> None:
        response = await anon.post("/auth/login", json=body)
        into.append(response.status)

    async with anyio.create_task_group() as tg:
        for _ in range(100):
            tg.start_soon(attempt, WRONG, wrong)
        # The right password, once the burst has used the budget (its guesses may still
        # be hashing): it must be refused like any other attempt beyond the budget.
        await wait_until(lambda: runtime.limiter.retry_after(["user:owner"]) is not None,
                         message="the burst to use the budget")
        tg.start_soon(attempt, RIGHT, right)

    assert runtime.auth.password_checks <= BUDGET
    assert _failed_login_lines(caplog) <= BUDGET
    counts = Counter(wrong)
    assert counts[429] >= 100 - BUDGET, counts
    assert set(counts) <= {401, 429}, counts
    assert right == [429]


async def test_the_budget_is_per_user_across_usernames_per_address(
    anon: ClientSession, runtime: HttpRuntime
) -> None:
    """One address guessing a different user name each time is stopped all the same."""
    statuses = [
        (await anon.post("/auth/login", json={"username": f"user{i}", "password": "x" * 9}))
        .status
        for i in range(BUDGET + 2)
    ]
    assert statuses == [401] * (BUDGET - 1) + [429] * 3
    assert runtime.auth.password_checks == BUDGET


async def test_a_success_does_not_reopen_the_budget(anon: ClientSession) -> None:
    """A right password does not wipe the failures before it (a burst could follow)."""
    for _ in range(BUDGET - 2):
        assert (await anon.post("/auth/login", json=WRONG)).status == 401
    assert (await anon.post("/auth/login", json=RIGHT)).status == 200
    # Three failures are still counted: one more is allowed, then the budget is used.
    assert (await anon.post("/auth/login", json=WRONG)).status == 401
    assert (await anon.post("/auth/login", json=WRONG)).status == 429
    assert (await anon.post("/auth/login", json=RIGHT)).status == 429


async def test_the_current_password_of_a_password_change_has_the_same_budget(
    owner: Client, origin: dict[str, str], runtime: HttpRuntime
) -> None:
    body = {"current_password": "not it at all", "new_password": "a brand new one"}
    statuses = [
        (await owner.post("/api/auth/password", json=body, headers=origin)).status
        for _ in range(8)
    ]
    assert statuses == [400] * (BUDGET - 1) + [429] * 4
    refused = await owner.post("/api/auth/password", headers=origin, json={
        "current_password": OWNER["password"], "new_password": "a brand new one"})
    assert refused.status == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 300
    assert runtime.auth.password_checks == BUDGET
    # ... and the password did not change.
    owner.session.cookie_jar.clear()
    runtime.limiter.clock = lambda: 10_000_000.0  # the window has passed
    assert (await owner.post("/auth/login", json=RIGHT)).status == 200


async def test_parallel_password_changes_hash_at_most_the_budget(
    owner: Client, origin: dict[str, str], runtime: HttpRuntime
) -> None:
    body = {"current_password": "not it at all", "new_password": "a brand new one"}
    statuses: list[int] = []

    async def attempt() -> None:
        response = await owner.post("/api/auth/password", json=body, headers=origin)
        statuses.append(response.status)

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(attempt)
    assert runtime.auth.password_checks <= BUDGET
    counts = Counter(statuses)
    assert counts[429] >= 50 - BUDGET and set(counts) <= {400, 429}, counts
