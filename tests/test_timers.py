"""
L{txsockjs._timers.SharedTimer}: successive timeouts of one connection on
one reactor call, each firing when a call of its own would have.
"""

from __future__ import annotations

from typing import List

from twisted.internet.error import AlreadyCalled, AlreadyCancelled
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from txsockjs._timers import SharedTimer


class SharedTimerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.timer = SharedTimer(self.clock)
        self.fired: List[str] = []

    def later(self, delay: float, name: str) -> IDelayedCall:
        return self.timer.call_later(delay, self.fired.append, name)

    def test_is_a_delayed_call(self) -> None:
        verifyObject(IDelayedCall, self.later(1, "a"))

    def test_fires_on_time(self) -> None:
        use = self.later(5, "a")
        self.assertEqual(use.getTime(), 5)
        self.clock.advance(4.9)
        self.assertEqual(self.fired, [])
        self.clock.advance(0.1)
        self.assertEqual(self.fired, ["a"])
        self.assertFalse(use.active())
        self.assertRaises(AlreadyCalled, use.cancel)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_successive_uses_share_one_reactor_call(self) -> None:
        for n in range(5):
            use = self.later(10, str(n))
            self.assertEqual(len(self.clock.getDelayedCalls()), 1)
            self.clock.advance(1)
            use.cancel()
            self.assertFalse(use.active())
            self.assertRaises(AlreadyCancelled, use.cancel)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.clock.advance(20)
        self.assertEqual(self.fired, [], "a cancelled use never runs")
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_moved_call_fires_at_the_new_use_time(self) -> None:
        self.later(10, "a").cancel()
        self.clock.advance(3)
        self.later(10, "b")
        self.clock.advance(7)
        self.assertEqual(self.fired, [], "not at the first use's time")
        self.clock.advance(2.9)
        self.assertEqual(self.fired, [])
        self.clock.advance(0.1)
        self.assertEqual(self.fired, ["b"])

    def test_sooner_use(self) -> None:
        self.later(10, "a").cancel()
        self.later(2, "b")
        self.clock.advance(2)
        self.assertEqual(self.fired, ["b"])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_overlapping_uses_each_fire(self) -> None:
        self.later(5, "a")
        self.later(3, "b")
        self.assertEqual(len(self.clock.getDelayedCalls()), 2)
        self.clock.advance(3)
        self.assertEqual(self.fired, ["b"])
        self.clock.advance(2)
        self.assertEqual(self.fired, ["b", "a"])

    def test_reset_and_delay(self) -> None:
        use = self.later(5, "a")
        use.reset(8)
        use.delay(1)
        self.assertEqual(use.getTime(), 9)
        self.clock.advance(8.9)
        self.assertEqual(self.fired, [])
        self.clock.advance(0.1)
        self.assertEqual(self.fired, ["a"])
        self.assertRaises(AlreadyCalled, use.reset, 1)

    def test_stop_leaves_nothing(self) -> None:
        use = self.later(5, "a")
        self.timer.stop()
        self.assertFalse(use.active())
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(10)
        self.assertEqual(self.fired, [])

    def test_arguments(self) -> None:
        got = []
        self.timer.call_later(1, lambda *a, **k: got.append((a, k)), 1, 2, x=3)
        self.clock.advance(1)
        self.assertEqual(got, [((1, 2), {"x": 3})])


class TakeoverTimerTests(SynchronousTestCase):
    """
    A websocket that took its connection over from the HTTP channel keeps no
    timer of the channel's: an idle session would otherwise hold a reactor
    call (and its memory) until the channel's old idle timeout came.
    """

    def test_no_channel_timer_after_takeover(self) -> None:
        from twisted.internet.protocol import Factory, Protocol

        from txsockjs import Options, SockJSResource, SockJSSite
        from txsockjs.testing import SockJSTestServer

        clock = Clock()
        options = Options()
        resource = SockJSResource(Factory.forProtocol(Protocol), options, reactor=clock)
        site = SockJSSite(resource, options, endpoints={"/": resource}, reactor=clock)
        server = SockJSTestServer.for_site(site)
        self.addCleanup(server.stop)

        def shared() -> List[IDelayedCall]:
            return [
                call
                for call in clock.getDelayedCalls()
                if isinstance(getattr(call.func, "__self__", None), SharedTimer)
            ]

        # a keep-alive connection between requests: its idle timeout runs on
        # the guard's shared timer (else this test would prove nothing)
        server.request("GET", "/info", close=False)
        before = shared()
        self.assertEqual(len(before), 1)
        session = server.open("websocket")
        self.assertEqual(session.frames[0].kind, "o")
        self.assertEqual(shared(), before)
