"""
The connection limits of L{txsockjs.SockJSSite}, driven by a L{Clock}: real
HTTP channels on in-memory transports, fed byte by byte as a slow or
hostile client would.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.http import datetimeToString, stringToDatetime
from twisted.web.server import NOT_DONE_YET, Site

from txsockjs import Options, SockJSRequest, SockJSResource, SockJSSite
from txsockjs._site import _DateHeader


class Echo(Protocol):
    def messageReceived(self, message):
        self.transport.send(message)


class Recorder(Resource):
    """
    Remembers the bodies it got; C{/hold} keeps its request open.
    """

    isLeaf = True

    def __init__(self):
        Resource.__init__(self)
        self.bodies = []
        self.held = []

    def render(self, request):
        self.bodies.append(request.content.read())
        if request.postpath == [b"hold"]:
            self.held.append(request)
            return NOT_DONE_YET
        return b"ok"


class Conn:
    """
    One client connection to a site, in memory.
    """

    _port = 40000

    def __init__(self, site):
        Conn._port += 1
        self.protocol = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", Conn._port))
        self.transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", Conn._port))
        self.refused = self.protocol is None
        if not self.refused:
            self.protocol.makeConnection(self.transport)

    def send(self, data):
        self.protocol.dataReceived(data)

    def lose(self):
        from twisted.python.failure import Failure
        from twisted.internet.error import ConnectionDone

        self.protocol.connectionLost(Failure(ConnectionDone()))

    @property
    def closing(self):
        return self.transport.disconnecting

    def value(self):
        return self.transport.value()


def site_with(reactor, **limits):
    recorder = Recorder()
    root = Resource()
    root.putChild(b"r", recorder)
    site = SockJSSite(root, Options(**limits), reactor=reactor)
    site.startFactory()
    return site, recorder


class BodyLimitTests(SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.site, self.recorder = site_with(self.clock, max_body_size=100)

    def test_announced_too_large_refused_before_the_body(self):
        c = Conn(self.site)
        c.send(b"POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n")
        self.assertTrue(c.value().startswith(b"HTTP/1.1 413 "), c.value())
        self.assertIn(b"Connection: close", c.value())
        # what follows is read and thrown away, then the connection dropped
        c.send(b"x" * 65536)
        self.assertEqual(self.recorder.bodies, [])
        self.clock.advance(3)
        self.assertTrue(c.closing)

    def test_expect_continue_not_answered_when_refused(self):
        c = Conn(self.site)
        c.send(
            b"POST /r HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            b"Content-Length: 101\r\n\r\n"
        )
        self.assertTrue(c.value().startswith(b"HTTP/1.1 413 "))
        self.assertNotIn(b"100 Continue", c.value())

    def test_chunked_body_refused_once_past_the_limit(self):
        c = Conn(self.site)
        c.send(b"POST /r HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        c.send(b"40\r\n" + b"a" * 64 + b"\r\n")
        self.assertEqual(c.value(), b"")
        c.send(b"40\r\n" + b"a" * 64 + b"\r\n")
        self.assertTrue(c.value().startswith(b"HTTP/1.1 413 "))
        c.send(b"0\r\n\r\n")
        self.assertEqual(self.recorder.bodies, [])

    def test_body_at_the_limit_served(self):
        c = Conn(self.site)
        c.send(b"POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"b" * 100)
        self.assertEqual(self.recorder.bodies, [b"b" * 100])
        self.assertIn(b"200 OK", c.value())

    def test_request_factory_in_a_plain_site(self):
        recorder = Recorder()
        site = Site(recorder, requestFactory=SockJSRequest)
        c = Conn(site)
        big = SockJSRequest.max_body_size + 1
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % big)
        self.assertTrue(c.value().startswith(b"HTTP/1.1 413 "))
        c.lose()


class HeaderTimeoutTests(SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.site, self.recorder = site_with(
            self.clock, header_timeout=10, idle_timeout=60
        )

    def test_slow_headers_dropped_at_the_deadline(self):
        c = Conn(self.site)
        c.send(b"GET /r HTTP/1.1\r\n")
        for _ in range(3):
            self.clock.advance(3)
            c.send(b"X-Slow: 1\r\n")
        self.assertFalse(c.closing)
        self.clock.advance(1.5)
        self.assertTrue(c.closing)
        self.assertTrue(c.value().startswith(b"HTTP/1.1 408 "), c.value())

    def test_silent_connection_dropped(self):
        c = Conn(self.site)
        self.clock.advance(10)
        self.assertTrue(c.closing)

    def test_deadline_per_request_not_per_connection(self):
        c = Conn(self.site)
        for _ in range(3):
            self.clock.advance(8)
            c.send(b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertFalse(c.closing)
        self.assertEqual(len(self.recorder.bodies), 3)
        # idle between requests: the idle timeout, not the header deadline
        self.clock.advance(30)
        self.assertFalse(c.closing)
        self.clock.advance(30)
        self.assertTrue(c.closing)

    def test_open_answer_is_not_idle(self):
        c = Conn(self.site)
        c.send(b"POST /r/hold HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        for _ in range(20):
            self.clock.advance(10)
        self.assertFalse(c.closing)
        self.recorder.held[0].finish()
        self.assertFalse(c.closing)
        self.clock.advance(60)
        self.assertTrue(c.closing)

    def test_slow_body_is_not_a_header_timeout(self):
        c = Conn(self.site)
        c.send(b"POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n")
        for byte in (b"a", b"b", b"c"):
            self.clock.advance(9)
            c.send(byte)
        self.assertEqual(self.recorder.bodies, [b"abc"])
        self.assertFalse(c.closing)

    def deadline_timers(self):
        return [call for call in self.clock.getDelayedCalls() if call.func.__name__ == "_too_slow"]

    def test_one_deadline_timer_per_connection(self):
        """
        Requests on a keep-alive connection push one timer later rather
        than each starting (and cancelling) one of their own.
        """
        c = Conn(self.site)
        for _ in range(5):
            self.clock.advance(1)
            c.send(b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(len(self.deadline_timers()), 1)
        self.assertEqual(len(self.recorder.bodies), 5)
        self.assertFalse(c.closing)

    def test_deadline_of_a_later_head_counts_from_its_first_byte(self):
        """
        The timer pushed later by a new head fires at that head's own
        deadline: not earlier (at the timer's first time), not later.
        """
        c = Conn(self.site)
        self.clock.advance(7)
        c.send(b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n")
        self.clock.advance(2)
        c.send(b"GET /r HTTP/1.1\r\n")
        # the first timer's time (10) passes: this head has until 19
        self.clock.advance(9.9)
        self.assertFalse(c.closing)
        self.clock.advance(0.1)
        self.assertTrue(c.closing)
        self.assertIn(b"HTTP/1.1 408 ", c.value())
        self.assertEqual(self.site.header_timeouts, 1)

    def test_deadline_timer_that_fires_with_no_head_due_goes(self):
        """
        A timer whose time comes while no head is due closes nothing and
        leaves no timer; the next head starts a new one.
        """
        c = Conn(self.site)
        c.send(b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n")
        self.clock.advance(10)
        self.assertFalse(c.closing)
        self.assertEqual(self.deadline_timers(), [])
        c.send(b"GET /r")
        self.assertEqual(len(self.deadline_timers()), 1)
        self.clock.advance(10)
        self.assertTrue(c.closing)

    def test_idle_timeout_one_timer_per_connection(self):
        """
        twisted.web's idle timeout, stopped and started again by every
        request, keeps one reactor call per connection.
        """
        c = Conn(self.site)
        for _ in range(5):
            self.clock.advance(1)
            c.send(b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n")
            idle = [call for call in self.clock.getDelayedCalls() if call.func.__name__ == "_fire"]
            self.assertEqual(len(idle), 1)
        self.assertEqual(len(self.recorder.bodies), 5)
        self.clock.advance(59.9)
        self.assertFalse(c.closing)
        self.clock.advance(0.1)
        self.assertTrue(c.closing)

    def test_peer_asked_once(self):
        c = Conn(self.site)
        peer = c.protocol.getPeer()
        self.assertEqual(peer, c.transport.getPeer())
        c.transport.peerAddress = IPv4Address("TCP", "127.0.0.2", 1)
        self.assertIs(c.protocol.getPeer(), peer)

    def test_producer_is_the_transport(self):
        c = Conn(self.site)
        c.protocol.pauseProducing()
        self.assertEqual(c.transport.producerState, "paused")
        c.protocol.resumeProducing()
        self.assertEqual(c.transport.producerState, "producing")
        c.protocol.stopProducing()
        self.assertEqual(c.transport.producerState, "stopped")

    def test_disconnecting_is_the_transports(self):
        c = Conn(self.site)
        self.assertFalse(c.protocol.disconnecting)
        c.transport.loseConnection()
        self.assertTrue(c.protocol.disconnecting)

    def test_no_deadline_left_behind(self):
        c = Conn(self.site)
        c.send(b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n")
        c.lose()
        self.assertEqual(
            [call for call in self.clock.getDelayedCalls() if call.func.__name__ == "_too_slow"],
            [],
        )


class ConnectionCapTests(SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.site, self.recorder = site_with(
            self.clock, max_connections=3, header_timeout=None, idle_timeout=None
        )

    def test_longest_waiting_connection_makes_room(self):
        slow = [Conn(self.site) for _ in range(3)]
        for c in slow:
            c.send(b"GET /r HTTP/1.1\r\n")
        fresh = Conn(self.site)
        self.assertTrue(slow[0].closing)
        self.assertFalse(slow[1].closing or slow[2].closing)
        slow[0].lose()
        fresh.send(b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"200 OK", fresh.value())
        self.assertEqual(self.site.connections, 3)
        self.assertEqual(self.site.evictions, 1)

    def test_busy_connections_are_kept_and_the_new_one_gets_503(self):
        busy = [Conn(self.site) for _ in range(3)]
        for c in busy:
            c.send(b"POST /r/hold HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        extra = Conn(self.site)
        self.assertFalse(any(c.closing for c in busy))
        self.assertTrue(extra.value().startswith(b"HTTP/1.1 503 "), extra.value())
        self.assertEqual(self.site.refusals, 1)
        self.clock.advance(3)
        self.assertTrue(extra.transport.disconnecting)
        extra.lose()
        # a finished answer makes its connection evictable again
        self.recorder.held[0].finish()
        again = Conn(self.site)
        self.assertFalse(again.refused)
        self.assertTrue(busy[0].closing)

    def test_counts_return_to_zero(self):
        conns = [Conn(self.site) for _ in range(3)]
        for c in conns:
            c.lose()
        self.assertEqual(self.site.connections, 0)
        self.assertEqual(self.site.guard.waiting, 0)


class Nosy(StringTransport):
    """
    A transport that records the attributes asked of it and not found.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.misses = []

    def __getattr__(self, name):
        self.misses.append(name)
        raise AttributeError(name)


class GuardLookupTests(SynchronousTestCase):
    def test_is_secure_asks_the_transport_nothing(self):
        """
        Every request's C{isSecure()} adapts the connection's guard to
        C{ISSLTransport}: zope asks the guard for C{__conform__}, which must
        not go through the wrapper's C{__getattr__} to a miss on the
        transport (two failed lookups per session open).
        """
        site, _ = site_with(Clock())
        transport = Nosy(peerAddress=IPv4Address("TCP", "127.0.0.1", 40999))
        guard = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40999))
        guard.makeConnection(transport)
        del transport.misses[:]
        guard.dataReceived(b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"200 OK", transport.value())
        self.assertFalse(guard.wrappedProtocol._channel.isSecure())
        # (negotiatedProtocol, asked once per connection, must reach the
        # transport: a TLS one answers it, for HTTP/2 by ALPN)
        self.assertNotIn("__conform__", transport.misses)


class GuardTakeoverTests(SynchronousTestCase):
    def test_producer_methods_released_at_takeover(self):
        """
        The guard keeps the transport's producer methods for the HTTP
        channel, and lets them go when a websocket takes the connection
        over (three objects fewer per websocket for the garbage collector);
        calls still reach the transport.
        """
        from txsockjs.testing import SockJSTestServer

        clock = Clock()
        options = Options()
        resource = SockJSResource(Factory.forProtocol(Echo), options, reactor=clock)
        site = SockJSSite(resource, options, endpoints={"/": resource}, reactor=clock)
        guards = []
        build = site.buildProtocol

        def buildProtocol(addr):
            guard = build(addr)
            guards.append(guard)
            return guard

        site.buildProtocol = buildProtocol
        server = SockJSTestServer.for_site(site)
        self.addCleanup(server.stop)
        server.request("GET", "/info", close=False)
        self.assertIn("pauseProducing", vars(guards[0]))
        session = server.open("websocket")
        self.assertEqual(session.frames[0].kind, "o")
        websocket = guards[-1]
        for name in ("pauseProducing", "resumeProducing", "stopProducing"):
            self.assertNotIn(name, vars(websocket))
            self.assertEqual(getattr(websocket, name), getattr(websocket.transport, name))


class SessionCapTests(SynchronousTestCase):
    def test_new_sessions_past_the_cap_get_503(self):
        clock = Clock()
        factory = Factory.forProtocol(Echo)
        resource = SockJSResource(factory, Options(max_sessions=2), reactor=clock)
        site = SockJSSite(resource, resource.options, reactor=clock)
        self.addCleanup(resource.shutdown)
        codes = []
        for path in (b"a/xhr", b"b/xhr", b"c/xhr", b"a/xhr_send"):
            c = Conn(site)
            c.send(
                b"POST /0/" + path + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"
                b'["x"]'
            )
            clock.advance(0)
            codes.append(c.value().split(b" ", 2)[1])
            c.lose()
        # the third is refused; the sessions there are served
        self.assertEqual(codes, [b"200", b"200", b"503", b"204"])
        self.assertEqual(len(resource.sessions), 2)


class Recording(Factory):
    """
    An application factory that notes its start and stop, and how many
    sessions of C{resource} were still open when it was stopped.
    """

    protocol = Echo
    resource = None

    def __init__(self):
        self.events = []

    def startFactory(self):
        self.events.append("start")

    def stopFactory(self):
        self.events.append(("stop", len(self.resource.open_sessions())))


class SiteLifeTests(SynchronousTestCase):
    """
    The one start/stop life of a SockJSSite, which C{SockJSFactory},
    C{twistd sockjs} and the C{sockjs:} endpoint share.
    """

    def setUp(self):
        self.clock = Clock()
        self.app = Recording()
        self.resource = SockJSResource(self.app, Options(), reactor=self.clock)
        self.app.resource = self.resource
        root = Resource()
        root.putChild(b"echo", self.resource)
        self.site = SockJSSite(
            root,
            Options(),
            factories=[self.app],
            endpoints={"/echo": self.resource},
            reactor=self.clock,
        )
        self.conns = []

    def open_session(self, sid):
        c = Conn(self.site)
        c.send(
            b"POST /echo/0/" + sid + b"/xhr HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        )
        self.assertIn(b"o\n", c.value())
        self.conns.append(c)
        return self.resource.sessions.get(sid.decode())

    def test_started_once_for_every_port(self):
        """
        The factories start with the first port that listens, and stop with
        the last that stops.
        """
        self.site.doStart()
        self.site.doStart()
        self.assertEqual(self.app.events, ["start"])
        self.site.doStop()
        self.assertEqual(self.app.events, ["start"])
        self.site.doStop()
        self.assertEqual(self.app.events, ["start", ("stop", 0)])

    def test_stop_closes_sessions_before_the_factory_and_leaves_no_timer(self):
        """
        Stopping closes every session with 1001 and forgets it, then stops
        the factory; no heartbeat or disconnect timer is left behind (once
        the clients closed their connections, whose idle timers are
        twisted.web's).
        """
        self.site.doStart()
        sessions = [self.open_session(b"a"), self.open_session(b"b")]
        self.assertEqual(len(self.resource.open_sessions()), 2)
        self.assertNotEqual(self.clock.getDelayedCalls(), [])
        self.site.doStop()
        self.assertEqual(self.app.events, ["start", ("stop", 0)])
        self.assertEqual(
            [s.close_reason for s in sessions], [(1001, "Server shutting down")] * 2
        )
        self.assertEqual(len(self.resource.sessions), 0)
        for c in self.conns:
            c.lose()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_factory_stopped_when_an_endpoint_fails_to_shut_down(self):
        """
        One endpoint that fails to shut down does not leave the factories
        running; the failure is logged.
        """

        class Broken(SockJSResource):
            def shutdown(self, code=1001, reason=""):
                raise RuntimeError("broken")

        broken = Broken(Factory.forProtocol(Echo), Options(), reactor=self.clock)
        self.site.endpoints["/broken"] = broken
        self.site.doStart()
        self.site.doStop()
        self.assertEqual(self.app.events, ["start", ("stop", 0)])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)


class DateHeaderTests(SynchronousTestCase):
    def test_formatted_once_a_second_and_right_to_the_second(self):
        now = [1000.2]
        date = _DateHeader(lambda: now[0])
        first = date.now()
        self.assertEqual(first, datetimeToString(1000))
        now[0] = 1000.99
        self.assertIs(date.now(), first)
        now[0] = 1001.0
        self.assertEqual(date.now(), datetimeToString(1001))

    def test_answers_carry_it(self):
        site, _ = site_with(Clock())
        c = Conn(site)
        before = stringToDatetime(datetimeToString())
        c.send(b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n")
        after = stringToDatetime(datetimeToString())
        head = c.value().split(b"\r\n\r\n")[0].split(b"\r\n")
        dates = [line.split(b": ", 1)[1] for line in head if line.lower().startswith(b"date:")]
        self.assertEqual(len(dates), 1)
        self.assertTrue(before <= stringToDatetime(dates[0]) <= after, dates)
