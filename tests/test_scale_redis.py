"""
L{RedisBus} against a real redis-server (started on a free 127.0.0.1 port,
stopped by its PID): two buses stand for two processes. Skipped when
redis-server is not installed (a failure under CI).
"""

from __future__ import annotations

import os
import shutil
import select
import signal
import socket
import subprocess
import time

import pytest
from twisted.application.internet import backoffPolicy
from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.trial import unittest

from txsockjs._redisbus import RedisBus

from ._helpers import Arrivals, Receiver, Recorder, open_sockets, request_info, sockets_closed

pytestmark = pytest.mark.scale

WAIT = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """
    A redis-server on C{port}; constructed once it says it accepts
    connections (read from its log as it comes, bounded).
    """

    READY = b"Ready to accept connections"

    def __init__(self, port: int) -> None:
        self.port = port
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        assert self.process.stdout is not None
        log = b""
        deadline = time.monotonic() + WAIT
        while self.READY not in log:
            left = deadline - time.monotonic()
            readable, _, _ = select.select([self.process.stdout], [], [], max(left, 0))
            chunk = os.read(self.process.stdout.fileno(), 4096) if readable else b""
            if not chunk:
                self.stop()
                raise RuntimeError(f"redis-server did not start: {log[-500:]!r}")
            log += chunk
        # nothing reads its log from now on
        self.process.stdout.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(WAIT)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()


class RealRedisBusTests(unittest.TestCase):
    timeout = 60

    def setUp(self) -> None:
        if shutil.which("redis-server") is None:
            message = "redis-server is missing: run `bash scripts/install-test-deps.sh`"
            if os.environ.get("CI"):
                self.fail(message)
            raise unittest.SkipTest(message)
        self.port = _free_port()
        self.redis = RedisServer(self.port)
        self.addCleanup(lambda: self.redis.stop())
        self.buses = [self.bus(), self.bus()]

    def bus(self) -> RedisBus:
        bus = RedisBus(
            TCP4ClientEndpoint(reactor, "127.0.0.1", self.port, timeout=2),
            db=1,
            retry_policy=backoffPolicy(initialDelay=0.05, factor=2.0, maxDelay=0.5, jitter=lambda: 0),
        )
        bus.startService()
        self.addCleanup(bus.close)
        return bus

    def redis_goes_away(self) -> defer.Deferred:
        """
        Stop redis-server; fires once every connection of this process to
        it has closed (the buses have seen it go).
        """
        to_redis = [
            sock for sock in open_sockets() if sock.getPeer().port == self.port
        ]
        closed = sockets_closed(to_redis, timeout=WAIT)
        self.redis.stop()
        return closed

    @defer.inlineCallbacks
    def test_across_buses_outage_and_reconnection(self) -> None:
        a, b = self.buses
        yield defer.gatherResults([a.when_connected(), b.when_connected()])
        got_a, got_b = Arrivals(), Arrivals()
        yield a.subscribe("room", got_a.append)
        yield b.subscribe("room", got_b.append)
        text = "hi \ud800 \u2028 " + "x" * 100000
        sent = yield a.publish("room", text)
        self.assertIs(sent, True)
        yield defer.gatherResults([got_a.until(len), got_b.until(len)])
        self.assertEqual((got_a, got_b), ([text], [text]))

        # Redis goes away: a publish reaches its own process only, counted
        yield self.redis_goes_away()
        self.assertFalse(a.connected or b.connected)
        sent = yield a.publish("room", "during")
        self.assertIs(sent, False)
        self.assertEqual(a.lost, 1)
        self.assertEqual((got_a[-1], got_b[-1]), ("during", text))
        self.flushLoggedErrors()

        # it comes back on the same port: both reconnect and re-subscribe
        self.redis = RedisServer(self.port)
        yield defer.gatherResults([a.when_connected(), b.when_connected()])
        self.assertEqual((a.connects, b.connects), (2, 2))
        yield b.publish("room", "after")
        yield defer.gatherResults(
            [got.until(lambda items: items[-1] == "after") for got in (got_a, got_b)]
        )
        self.assertEqual(got_b, [text, "after"])

    @defer.inlineCallbacks
    def test_unsubscribed_channel_stays_quiet(self) -> None:
        a, b = self.buses
        yield defer.gatherResults([a.when_connected(), b.when_connected()])
        got = Arrivals()
        sub = yield b.subscribe("c", got.append)
        yield b.subscribe("d", got.append)
        yield b.unsubscribe(sub)
        yield a.publish("c", "not for b")
        yield a.publish("d", "for b")
        # Redis keeps the order of one connection's publications: had
        # "not for b" reached b, it would have come first
        yield got.until(len)
        self.assertEqual(got, ["for b"])

    @defer.inlineCallbacks
    def test_rooms_publish_right_after_first_join(self) -> None:
        """
        Two L{Rooms} in two "processes" (two buses on one redis-server): once
        the receiving side is ready, its first session joins and the other
        side publishes at once; the message arrives (no SUBSCRIBE is made at
        the join to race with it). Repeated with fresh rooms each round.
        """
        from twisted.internet.task import Clock

        from txsockjs.rooms import Rooms
        from txsockjs._hub import SessionHub
        from txsockjs.session import Session


        a, b = self.buses
        hub = SessionHub(Clock(), heartbeat_delay=25.0, disconnect_delay=5.0)
        for k in range(5):
            here, there = Rooms(a, f"ns{k}"), Rooms(b, f"ns{k}")
            yield defer.gatherResults([here.when_ready(), there.when_ready()])
            self.assertTrue(a.ready and b.ready)
            session = Session(f"s{k}", Recorder(), hub, request_info(), "xhr_polling")
            receiver = Receiver(session)
            session.attach(receiver)
            joined = here.join("all", session)
            self.assertTrue(joined.called)  # live already: nothing to wait for
            sent = yield there.publish("all", f"from b {k}")
            self.assertIs(sent, True)
            yield receiver.frames.until(lambda frames: len(frames) > 1)
            self.assertEqual(receiver.frames, [b"o", f'a["from b {k}"]'.encode()])
            yield here.close()
            yield there.close()

    @defer.inlineCallbacks
    def test_health_503_until_subscriptions_live(self) -> None:
        """
        A process's health check answers 503 until its bus has connected
        and made the subscription of the L{Rooms} made at start; 200 after,
        and still 200 (body C{bus down}) during a later Redis outage.
        """
        from treq.testing import StubTreq

        from txsockjs.health import Health
        from txsockjs.rooms import Rooms

        bus = RedisBus(
            TCP4ClientEndpoint(reactor, "127.0.0.1", self.port, timeout=2),
            db=1,
            retry_policy=backoffPolicy(initialDelay=0.05, factor=2.0, maxDelay=0.5, jitter=lambda: 0),
        )
        self.addCleanup(bus.close)
        rooms = Rooms(bus)
        http = StubTreq(Health([], bus=bus))

        @defer.inlineCallbacks
        def get() -> defer.Deferred:
            response = yield http.get("http://h/")
            text = yield response.text()
            return response.code, text

        status = yield get()
        self.assertEqual(status, (503, "starting\nbus down\nsessions 0\n"))
        bus.startService()
        yield rooms.when_ready()
        self.assertTrue(bus.ready)
        status = yield get()
        self.assertEqual(status, (200, "serving\nbus up\nsessions 0\n"))
        yield self.redis_goes_away()
        self.assertFalse(bus.ready)
        status = yield get()
        self.assertEqual(status, (200, "serving\nbus down\nsessions 0\n"))
        self.flushLoggedErrors()
