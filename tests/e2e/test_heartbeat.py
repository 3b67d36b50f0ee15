"""
Heartbeats with the real client: with a heartbeat delay of 0.5 s, a client
that sends nothing stays connected across several heartbeat periods on every
transport, sees the heartbeats, and its session still echoes afterwards.

All transports idle at the same time (one parallel check per client), so the
module takes a few seconds whatever the number of transports.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator

import pytest

from .support import BROWSER_TRANSPORTS, NODE_TRANSPORTS, SAME_ORIGIN_ONLY, HarnessPage, run_node, start_servers

pytestmark = pytest.mark.e2e

HEARTBEAT = 0.5
IDLE_MS = 2600  # five heartbeat periods
MIN_HEARTBEATS = 3


@pytest.fixture(scope="module")
def heartbeat_servers() -> Iterator[dict]:
    servers, origins = start_servers(heartbeat=HEARTBEAT)
    yield origins
    for server in servers:
        server.stop()


def idle_runs(base: str, transports: list) -> list:
    return [["idle", {"url": base + "/echo", "transports": [t], "idleMs": IDLE_MS}] for t in transports]


@pytest.fixture(scope="module")
def browser_results(chromium: Any, heartbeat_servers: dict) -> Dict[tuple, dict]:
    """
    Chromium opens at most 6 connections per host and browser context: idle
    at most 3 sessions per context, so that no poll waits for a connection,
    and run every context at once.
    """
    batches = []
    for kind, origins in heartbeat_servers.items():
        transports = [t for t in BROWSER_TRANSPORTS if kind == "same" or t not in SAME_ORIGIN_ONLY]
        for start in range(0, len(transports), 3):
            batches.append((kind, transports[start : start + 3], HarnessPage(chromium, origins)))
    results: Dict[tuple, dict] = {}
    try:
        for kind, batch, page in batches:
            page.start("parallel", "", runs=idle_runs(page.origins.endpoints, batch))
        for kind, batch, page in batches:
            for transport, result in zip(batch, page.result()["results"]):
                results[(kind, transport)] = result
    finally:
        for _, _, page in batches:
            page.close()
    return results


@pytest.fixture(scope="module")
def node_results(heartbeat_servers: dict) -> Dict[str, dict]:
    base = heartbeat_servers["cross"].endpoints
    out = run_node("parallel", "", runs=idle_runs(base, NODE_TRANSPORTS))
    return dict(zip(NODE_TRANSPORTS, out["results"]))


def check_idle(result: dict, transport: str) -> None:
    shown = json.dumps(result)
    assert result.get("transport") == transport, shown
    assert result["stillOpen"], shown
    assert result["close"] is None, shown
    assert result["echo"], shown
    if transport != "websocket":
        assert result["heartbeats"] >= MIN_HEARTBEATS, shown
    # On websockets the heartbeat is a websocket ping (as sockjs-node's), which
    # the client answers without seeing it; an unanswered one would have
    # closed the session with 3000 "No response from heartbeat".


@pytest.mark.parametrize(
    "origin, transport",
    [
        pytest.param(o, t, id=f"{o}-{t}")
        for o in ("same", "cross")
        for t in BROWSER_TRANSPORTS
        if o == "same" or t not in SAME_ORIGIN_ONLY
    ],
)
def test_browser_idle_client_stays_connected(browser_results: dict, origin: str, transport: str) -> None:
    check_idle(browser_results[(origin, transport)], transport)


@pytest.mark.parametrize("transport", NODE_TRANSPORTS)
def test_node_idle_client_stays_connected(node_results: dict, transport: str) -> None:
    check_idle(node_results[transport], transport)
