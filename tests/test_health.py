"""
The health resource and the drain state machine, on a L{Clock}, through real
HTTP requests (treq's StubTreq) to a real L{SockJSResource}.
"""

from __future__ import annotations

from treq.testing import StubTreq
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource

from txsockjs import Options, SockJSResource, tap
from txsockjs.health import Drain, DrainState, Health
from txsockjs.session import SessionState


class Quiet(Protocol):
    def messageReceived(self, message: str) -> None:
        pass


class DrainTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.resource = SockJSResource(
            Factory.forProtocol(Quiet), Options(disconnect_delay=30.0, heartbeat_delay=60.0), reactor=self.clock
        )
        self.health = Health([self.resource])
        root = Resource()
        root.putChild(b"echo", self.resource)
        root.putChild(b"health", self.health)
        self.http = StubTreq(root)
        self.drain = Drain(self.health, [self.resource], timeout=10.0, clock=self.clock)

    def get(self, path: str) -> tuple:
        response = self.successResultOf(self.http.get("http://h" + path))
        return response.code, self.successResultOf(response.text())

    def poll(self, session: str) -> str:
        response = self.successResultOf(self.http.post(f"http://h/echo/000/{session}/xhr"))
        self.assertEqual(response.code, 200)
        return self.successResultOf(response.text())

    def test_health_serving(self) -> None:
        self.poll("s1")
        self.assertEqual(self.get("/health"), (200, "serving\nsessions 1\ntransport xhr 1\n"))

    def test_drain_state_machine(self) -> None:
        """
        drain(): 404 at once; new sessions still served until the timeout;
        then every session gets what it had queued, then c[1001,...]; the
        Deferred fires once they all have it.
        """
        self.assertEqual(self.poll("old"), "o\n")
        done = self.drain.drain()
        self.assertIs(self.drain.state, DrainState.DRAINING)
        self.assertEqual(self.get("/health")[0], 404)
        self.assertTrue(self.get("/health")[1].startswith("draining\n"))

        self.clock.advance(9.0)
        self.assertEqual(self.poll("new"), "o\n")  # still served
        sessions = {s.session_id: s for s in self.resource.sessions}
        sessions["old"].send("queued before the close")
        self.assertNoResult(done)
        self.assertIs(self.drain.state, DrainState.DRAINING)

        self.clock.advance(1.0)
        self.assertIs(self.drain.state, DrainState.CLOSING)
        self.assertNoResult(done)
        self.assertEqual(self.poll("old"), 'a["queued before the close"]\n')
        self.assertEqual(self.poll("old"), 'c[1001,"Server shutting down"]\n')
        self.assertEqual(self.poll("new"), 'c[1001,"Server shutting down"]\n')
        for _ in range(20):
            self.clock.advance(0.05)
        self.successResultOf(done)
        self.assertIs(self.drain.state, DrainState.DONE)
        self.assertEqual(
            [s.state for s in self.resource.sessions if s.state is not SessionState.CLOSED], []
        )

    def test_drain_twice_and_close_now(self) -> None:
        first = self.drain.drain()
        second = self.drain.drain()
        self.clock.advance(1.0)
        third = self.drain.close_now()
        self.assertIs(self.drain.state, DrainState.CLOSING)
        self.clock.advance(0.2)
        for d in (first, second, third):
            self.successResultOf(d)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stop_service_drains(self) -> None:
        self.drain.startService()
        d = self.drain.stopService()
        self.assertTrue(self.health.draining)
        self.clock.advance(10.0)
        self.clock.advance(0.2)
        self.successResultOf(d)


class TwistdDrainTests(SynchronousTestCase):
    def test_flags(self) -> None:
        config = tap.Options()
        config.parseOptions(
            ["--handler=tests._helpers.echo_factory", "--health=/health", "--drain-timeout=4",
             "--listen=tcp:0"]
        )
        clock = Clock()
        svc = tap.build_service(config, clock)
        self.assertEqual(svc.drainer.timeout, 4.0)
        health = svc.site.resource.children[b"health"]
        self.assertIsInstance(health, Health)
        self.assertIs(svc.drainer.health, health)

    def test_bad_flags(self) -> None:
        for argv, words in (
            (["--drain-timeout=-1"], "--drain-timeout"),
            (["--health=/"], "give a path"),
            (["--health=/sockjs"], "mounted there"),
        ):
            config = tap.Options()
            with self.assertRaises(Exception) as caught:
                config.parseOptions(["--handler=tests._helpers.echo_factory", *argv])
            self.assertIn(words, str(caught.exception))

    def test_without_health_no_drain(self) -> None:
        config = tap.Options()
        config.parseOptions(["--handler=tests._helpers.echo_factory", "--listen=tcp:0"])
        self.assertIsNone(tap.build_service(config, Clock()).drainer)
