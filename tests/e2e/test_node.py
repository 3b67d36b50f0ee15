"""
sockjs-client 1.6.1 in Node against examples/test_server.py, over the
transports it offers there (websocket, xhr-streaming, xhr-polling and
eventsource).
"""

from __future__ import annotations

import pytest

from .support import NODE_TRANSPORTS, run_node

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def base(e2e_servers: dict) -> str:
    return e2e_servers["cross"].endpoints


@pytest.mark.parametrize("transport", NODE_TRANSPORTS)
def test_echo(base: str, transport: str) -> None:
    """
    Special strings, a 200 KB string and a burst of 1000 messages come back
    exact and in order over the transport asked for.
    """
    result = run_node("echo", base + "/echo", [transport])
    assert result.get("transport") == transport, result
    assert result["problems"] == [], result
    assert result["close"] is None, result


@pytest.mark.parametrize("transport", NODE_TRANSPORTS)
def test_close(base: str, transport: str) -> None:
    result = run_node("close", base + "/close", [transport])
    assert result["opened"] and result["transport"] == transport, result
    assert result["close"] is not None, result
    assert (result["close"]["code"], result["close"]["reason"]) == (3000, "Go away!"), result


@pytest.mark.parametrize("transport", NODE_TRANSPORTS)
def test_amplify(base: str, transport: str) -> None:
    result = run_node("amplify", base + "/amplify", [transport])
    assert result.get("transport") == transport, result
    assert result["lengths"] == result["expected"], result
    assert result["allX"], result


@pytest.mark.parametrize("transport", NODE_TRANSPORTS)
def test_cookie_needed(base: str, transport: str) -> None:
    result = run_node("simpleEcho", base + "/cookie_needed_echo", [transport])
    assert result.get("transport") == transport, result
    assert result["problems"] == [], result


@pytest.mark.parametrize("transport", NODE_TRANSPORTS)
def test_disabled_websocket(base: str, transport: str) -> None:
    result = run_node("simpleEcho", base + "/disabled_websocket_echo", [transport])
    if transport == "websocket":
        assert not result["opened"], result
        assert result["close"]["code"] == 2000, result
    else:
        assert result.get("transport") == transport, result
        assert result["problems"] == [], result


def test_fallback_from_websocket(base: str) -> None:
    """
    With no transport list: websocket where it is on, a fallback where not.
    """
    on = run_node("simpleEcho", base + "/echo")
    assert on.get("transport") == "websocket" and on["problems"] == [], on
    off = run_node("simpleEcho", base + "/disabled_websocket_echo")
    assert off.get("transport") == "xhr-streaming" and off["problems"] == [], off


def test_broadcast_across_transports(base: str) -> None:
    each = [[t] for t in NODE_TRANSPORTS]
    result = run_node("broadcast", base + "/broadcast", transportsEach=each)
    assert result["transports"] == NODE_TRANSPORTS, result
    expected = sorted(f"from {k}" for k in range(len(each)))
    assert result["received"] == [expected] * len(each), result
