"""What the dynamic security client does with answers it cannot use.

The answer topic is written by the broker, but every admin connection sees every
answer, and a broken or huge one must not break ours: it is ignored (and counted when
it belongs to somebody else). ``_on_response`` is what the connection calls per
message, so the test calls it the same way; the broker round trips are in
``test_provision_broker.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from gatehouse.integrations.mqtt.api import MqttMessage
from gatehouse.integrations.mqtt.provisioning import dynsec
from gatehouse.integrations.mqtt.provisioning.dynsec import DynsecClient, _Waiter


class _Unused:
    """No channel is needed to parse answers; anything else would be a test bug."""

    connected = False

    def subscribe(self, *_args: object) -> Callable[[], None]:
        raise AssertionError("not used")

    def publish_now(self, *_args: object) -> None:
        raise AssertionError("not used")

    async def wait_subscribed(self, timeout: float) -> bool:
        raise AssertionError("not used")


def answer(payload: bytes) -> MqttMessage:
    return MqttMessage(dynsec.RESPONSE_TOPIC, payload, 0, False, "e1")


@pytest.mark.parametrize("payload", [
    b"not json", b"[]", b'{"responses": 5}', b'{"responses": [1, "x", null]}',
    b"[" * 100_000,
])
def test_garbage_is_ignored(payload: bytes) -> None:
    client = DynsecClient(_Unused(), 1.0)
    waiter = client._waiting["k"] = _Waiter()
    client._on_response(answer(payload))
    assert waiter.response is None and not waiter.done.is_set()


def test_an_answer_reaches_its_waiter_and_others_are_counted() -> None:
    client = DynsecClient(_Unused(), 1.0)
    waiter = client._waiting["mine"] = _Waiter()
    client._on_response(answer(json.dumps({"responses": [
        {"command": "getClient", "correlationData": "theirs"},
        {"command": "getClient", "correlationData": "mine", "error": "Client not found"},
    ]}).encode()))
    assert waiter.done.is_set() and waiter.response is not None
    assert (waiter.response.command, waiter.response.error) == ("getClient", "Client not found")
    assert client.unmatched == 1


def test_a_huge_answer_is_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dynsec, "MAX_RESPONSE_BYTES", 64)
    client = DynsecClient(_Unused(), 1.0)
    waiter = client._waiting["mine"] = _Waiter()
    body = {"responses": [{"command": "listClients", "correlationData": "mine",
                           "data": {"clients": ["x" * 100]}}]}
    client._on_response(answer(json.dumps(body).encode()))
    assert waiter.response is None
