"""
Several txsockjs processes behind HAProxy or nginx, sharing a Redis bus,
started by examples/scale/up.sh (real redis-server, haproxy, nginx and
`twistd -n sockjs` backends on free 127.0.0.1 ports, every one stopped by its
PID), driven by sockjs-client 1.6.1 in Node (scale_client.js; htmlfile and
jsonp, which sockjs-client offers only in a browser, by a raw client of the
same URLs).
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any, Iterator, List

import pytest

from .scale_support import (
    NODE_TRANSPORTS,
    RAW_TRANSPORTS,
    Cluster,
    Driver,
    harness_folder,
    missing_tools,
    pid_alive,
    wait_until,
)
from .support import BROWSER_TRANSPORTS, HarnessPage, Origins, missing

pytestmark = [pytest.mark.e2e, pytest.mark.scale]

ALL_TRANSPORTS = NODE_TRANSPORTS + RAW_TRANSPORTS
#: the names the backends' /health uses for those transports
SERVER_NAMES = {
    "websocket": "websocket",
    "xhr-streaming": "xhr_streaming",
    "xhr-polling": "xhr",
    "eventsource": "eventsource",
    "htmlfile": "htmlfile",
    "jsonp": "jsonp",
}


@pytest.fixture
def driver() -> Iterator[Driver]:
    gone = missing_tools()
    if gone:
        missing(", ".join(gone))
    d = Driver()
    yield d
    d.stop()


def start(tmp_path: Any, **kw: Any) -> Cluster:
    gone = missing_tools()
    if gone:
        missing(", ".join(gone))
    return Cluster(str(tmp_path / "run"), **kw)


@pytest.fixture
def haproxy(tmp_path: Any) -> Iterator[Cluster]:
    cluster = start(tmp_path, backends=3, balancer="haproxy", drain_timeout=2.0)
    yield cluster
    cluster.stop()
    for pid in cluster.all_pids + cluster.extra_pids:
        assert not pid_alive(pid), f"PID {pid} still running after down.sh"


@pytest.fixture
def nginx(tmp_path: Any) -> Iterator[Cluster]:
    cluster = start(tmp_path, backends=3, balancer="nginx", drain_timeout=0.5)
    yield cluster
    cluster.stop()


def messages(gen: dict) -> List[str]:
    return [m for _, m in gen["messages"]]


def spread_and_broadcast(cluster: Cluster, driver: Driver, per_transport: int) -> None:
    specs = [
        {"id": f"{t}-{k}", "url": cluster.url + "/broadcast", "transport": t}
        for k in range(per_transport)
        for t in ALL_TRANSPORTS
    ]
    # one transport after the other, one session after the other: a
    # round-robin balancer then spreads each transport's sessions
    opened = {}
    for spec in sorted(specs, key=lambda s: ALL_TRANSPORTS.index(s["transport"])):
        opened.update(driver.open_many([spec]))
    assert opened == {s["id"]: s["transport"] for s in specs}

    # every backend holds sessions, and each transport is on several of them
    per_backend = [cluster.health(i) for i in range(3)]
    assert [status for status, _ in per_backend] == [200, 200, 200]
    totals = [sum(counts.values()) for _, counts in per_backend]
    assert sum(totals) == len(specs), per_backend
    assert all(total > 0 for total in totals), per_backend
    for transport in ALL_TRANSPORTS:
        hosts = [i for i, (_, counts) in enumerate(per_backend) if counts.get(SERVER_NAMES[transport])]
        assert len(hosts) >= 2, (transport, per_backend)

    # one message from every session reaches every session, exactly once
    for spec in specs:
        driver.send(cmd="send", id=spec["id"], message="from " + spec["id"])
    expected = sorted("from " + s["id"] for s in specs)

    def all_arrived() -> bool:
        conns = driver.dump()
        return all(len(messages(conns[s["id"]][0])) >= len(specs) for s in specs)

    wait_until(all_arrived, 20, "every broadcast to arrive", step=0.3)
    time.sleep(0.5)  # a duplicate would come now
    conns = driver.dump()
    for spec in specs:
        gen = conns[spec["id"]][0]
        assert sorted(messages(gen)) == expected, (spec, messages(gen))
        assert gen["close"] is None


def test_haproxy_spread_and_broadcast_every_transport(haproxy: Cluster, driver: Driver) -> None:
    spread_and_broadcast(haproxy, driver, per_transport=5)


def test_nginx_spread_and_broadcast_every_transport(nginx: Cluster, driver: Driver) -> None:
    # nginx hashes the session id: with 10 sessions a transport, all of them
    # on one of 3 backends has a chance of 3 / 3**10
    spread_and_broadcast(nginx, driver, per_transport=10)


def test_chromium_every_transport_through_haproxy(tmp_path: Any, chromium: Any) -> None:
    """
    sockjs-client in Chromium, the page served by the backends themselves
    (same origin, through HAProxy; the iframe page loads /sockjs.min.js from
    there too): every transport it offers, three per page (a page keeps at
    most six connections to one host), broadcasting through the Redis bus.
    """
    static = harness_folder(str(tmp_path / "static"))
    cluster = start(tmp_path, backends=3, balancer="haproxy", static=static)
    try:
        origins = Origins(endpoints=cluster.url, page=cluster.url, kind="same")
        seen_on = set()
        for i in range(0, len(BROWSER_TRANSPORTS), 3):
            group = BROWSER_TRANSPORTS[i : i + 3]
            page = HarnessPage(chromium, origins)
            try:
                result = page.run("broadcast", "/broadcast", transportsEach=[[t] for t in group])
                # HTTP sessions stay open on the server a few seconds after
                # the client closed: where they were shows the spread
                seen_on |= {b for b in range(3) if sum(cluster.health(b)[1].values())}
            finally:
                page.close()
            assert result["transports"] == group, (result, page.console[-10:])
            expected = sorted(f"from {k}" for k in range(len(group)))
            assert result["received"] == [expected] * len(group), result
        assert len(seen_on) >= 2, seen_on
    finally:
        cluster.stop()


def contiguous(values: List[int]) -> bool:
    return values == list(range(values[0], values[0] + len(values))) if values else True


def test_drain_loses_nothing(haproxy: Cluster, driver: Driver) -> None:
    """
    SIGTERM to one backend while a sender streams numbered broadcasts from
    another: its health check turns 404, its sessions get every message up
    to c[1001,...] with no gap, reopen on the other backends and go on
    receiving; sessions elsewhere see every message and no close.
    """
    sender_url = f"http://127.0.0.1:{haproxy.backend_port(0)}/broadcast"
    specs = [
        {"id": f"{t}-{k}", "url": haproxy.url + "/broadcast", "transport": t, "reconnect": True}
        for k in range(3)
        for t in ALL_TRANSPORTS
    ]
    driver.open_many(specs + [{"id": "sender", "url": sender_url, "transport": "websocket"}])
    victim = 2
    before = haproxy.health(victim)[1]
    on_victim = sum(before.values())
    assert on_victim > 0, before

    count, interval = 250, 20
    driver.send(cmd="stream", id="sender", prefix="", count=count, interval=interval)
    time.sleep(1.0)
    watch = haproxy.watch_health(victim)
    haproxy.signal(victim, signal.SIGTERM)
    signalled = time.monotonic() - watch.started
    try:
        wait_until(lambda: watch.first(404) is not None, 5, "a 404")
        haproxy.wait_exit(haproxy.backend_pids[victim], 15)
    except AssertionError as e:
        raise AssertionError(
            f"{e}; the victim's health check, SIGTERM at {signalled:.2f} s: "
            f"{watch.timeline()}\n{haproxy.log_tail(victim)}"
        ) from None
    finally:
        watch.stop()
    # 404 before the drain timeout (2 s) closes the sessions: HAProxy must
    # see it while new sessions would still be served here
    turned = watch.first(404)
    explained = f"SIGTERM at {signalled:.2f} s: {watch.timeline()}\n{haproxy.log_tail(victim)}"
    assert turned is not None and turned - signalled < 2.0, explained
    # serving until the signal, draining after, then gone (no 200 again)
    outcomes = watch.outcomes()
    assert 200 not in outcomes[outcomes.index(404):], explained
    streamed = driver.wait(lambda e: e["event"] == "streamed", 30)
    time.sleep(1.0)
    conns = driver.dump()

    drained = [s["id"] for s in specs if conns[s["id"]][0]["close"] is not None]
    assert len(drained) == on_victim, (drained, before)
    lost = 0
    for spec in specs:
        gens = conns[spec["id"]]
        if spec["id"] not in drained:
            assert len(gens) == 1 and gens[0]["close"] is None, (spec, gens)
            got = [int(m) for m in messages(gens[0])]
            assert got == list(range(count)), (spec["id"], got)
            continue
        first = gens[0]
        assert (first["close"]["code"], first["close"]["reason"]) == (1001, "Server shutting down")
        got = [int(m) for m in messages(first)]
        assert got and contiguous(got), (spec["id"], got)
        # every message sent a full second before the close is there
        sent_at = streamed["sent"]
        early = [k for k, t in enumerate(sent_at) if t < first["close"]["t"] - 1000]
        lost += len(set(early) - set(got))
        assert len(gens) == 2 and gens[1]["opened"] is not None, (spec["id"], gens)
        later = [int(m) for m in messages(gens[1])]
        assert later and contiguous(later) and later[-1] == count - 1, (spec["id"], later)
    print(f"\ndrain: {len(drained)} sessions drained, {lost} messages lost")
    assert lost == 0
    # nobody is left on the stopped backend's port
    assert not pid_alive(haproxy.backend_pids[victim])


def test_kill_9_new_sessions_go_to_survivors(haproxy: Cluster, driver: Driver) -> None:
    victim = 1
    haproxy.signal(victim, signal.SIGKILL)
    haproxy.wait_exit(haproxy.backend_pids[victim], 5)
    started = time.monotonic()
    specs = [
        {"id": f"{t}-{k}", "url": haproxy.url + "/echo", "transport": t}
        for k in range(3)
        for t in ALL_TRANSPORTS
    ]
    driver.open_many(specs, timeout=10)
    elapsed = time.monotonic() - started
    for spec in specs:
        driver.send(cmd="send", id=spec["id"], message="still here")
    wait_until(
        lambda: all(messages(c[0]) == ["still here"] for c in driver.dump().values()),
        10, "echoes through the survivors", step=0.2,
    )
    counts = [sum(haproxy.health(i)[1].values()) for i in (0, 2)]
    assert sum(counts) == len(specs) and all(counts), counts
    print(f"\n{len(specs)} new sessions opened {elapsed:.2f} s after kill -9")
    assert elapsed < 5


def test_redis_restart(haproxy: Cluster, driver: Driver) -> None:
    """
    Redis stops and starts again: the buses reconnect (with backoff) and
    later broadcasts reach every session on every backend again, once.
    """
    specs = [
        {"id": f"{t}-{k}", "url": haproxy.url + "/broadcast", "transport": t}
        for k in range(2)
        for t in NODE_TRANSPORTS
    ]
    driver.open_many(specs)
    assert all(sum(haproxy.health(i)[1].values()) for i in range(3))
    haproxy.stop_redis()
    driver.send(cmd="send", id=specs[0]["id"], message="during the outage")
    time.sleep(0.5)
    haproxy.start_redis()
    # the buses come back within the backoff (at most 5 s between attempts)
    k = 0

    def arrived() -> bool:
        nonlocal k
        driver.send(cmd="send", id=specs[k % len(specs)]["id"], message=f"probe {k}")
        k += 1
        conns = driver.dump()
        return all(any(m.startswith("probe") for m in messages(conns[s["id"]][0])) for s in specs)

    wait_until(arrived, 20, "broadcasts after Redis came back", step=0.5)
    time.sleep(0.5)
    driver.send(cmd="send", id=specs[-1]["id"], message="final")
    wait_until(
        lambda: all("final" in messages(c[0]) for c in driver.dump().values()),
        10, "the final broadcast",
    )
    time.sleep(0.3)
    for spec in specs:
        got = messages(driver.dump()[spec["id"]][0])
        assert got.count("final") == 1, (spec, got)
    texts = []
    for i in range(3):
        with open(os.path.join(haproxy.run_dir, f"b{i + 1}.log")) as f:
            texts.append(f.read())
    assert all("Redis bus: reconnected, 1 channels subscribed again" in t for t in texts), texts
    # the message sent during the outage was counted as lost where it was sent
    assert sum("reached this process only" in t for t in texts) == 1
