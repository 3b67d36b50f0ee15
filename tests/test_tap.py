"""
Tests for C{twistd sockjs} (L{txsockjs.tap} and the plugin): option parsing,
handler loading, the service over a real port, shutdown, and the real
C{twistd} in a subprocess.

The module-level objects below are handlers the tests name by dotted name.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys
import tempfile
from typing import Any, List, Tuple

from twisted.application.service import IServiceMaker
from twisted.internet import defer, error, protocol, reactor, task
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IProtocolFactory, IStreamServerEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.plugin import getPlugins
from twisted.protocols.wire import Echo
from twisted.python import usage
from twisted.trial import unittest
from twisted.web import resource as web_resource
from twisted.web import static
from zope.interface import implementer

import txsockjs
from txsockjs import SockJSSite, tap
from txsockjs.session import SessionState

from ._helpers import SHUTDOWN_FRAME, HTTPClientMixin, TrackingClock, bounded, connect_ws

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# -- handlers named by the tests -------------------------------------------------


class Upper(Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data.upper())


class UpperFactory(Factory):
    protocol = Upper


class NeedsArguments(Factory):
    def __init__(self, required: int) -> None:
        self.required = required


class NotAProtocol:
    pass


echo_factory = Factory.forProtocol(Echo)
NOT_A_FACTORY = 42


def make_upper_factory() -> Factory:
    return Factory.forProtocol(Upper)


def returns_protocol_class() -> type:
    return Upper


def returns_junk() -> str:
    return "junk"


def raises() -> None:
    raise RuntimeError("no factory today")


# -- helpers ---------------------------------------------------------------------


def temp_path(test: unittest.SynchronousTestCase) -> str:
    """
    A path that does not exist yet, in a directory removed after the test
    (trial's C{mktemp} writes under the working directory when pytest runs
    the tests).
    """
    folder = tempfile.mkdtemp(prefix="txsockjs-test-")
    test.addCleanup(shutil.rmtree, folder, True)
    return os.path.join(folder, "t")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse(args: List[str]) -> tap.Options:
    config = tap.Options()
    config.parseOptions(args)
    return config


# -- the plugin ------------------------------------------------------------------


class PluginTests(unittest.SynchronousTestCase):
    def test_discovered(self) -> None:
        """
        C{twistd} finds the C{sockjs} service maker, which uses L{tap}.
        """
        makers = [m for m in getPlugins(IServiceMaker) if m.tapname == "sockjs"]
        self.assertEqual(len(makers), 1)
        [maker] = makers
        self.assertIsInstance(maker.options(), tap.Options)
        self.assertIs(maker.makeService, tap.makeService)
        self.assertTrue(maker.description)

    def test_twistd_help_lists_sockjs(self) -> None:
        """
        C{twistd --help} names the C{sockjs} command.
        """
        from twisted.scripts.twistd import ServerOptions

        self.assertIn("sockjs", str(ServerOptions()))


# -- options -----------------------------------------------------------------------


class OptionsTests(unittest.SynchronousTestCase):
    def test_defaults(self) -> None:
        """
        With only a handler: mounted at C{/sockjs}, listening on port 8080
        of 127.0.0.1 only, with the default endpoint options.
        """
        config = parse(["--handler", "tests.test_tap.echo_factory"])
        self.assertEqual(config["mounts"], [(("sockjs",), "tests.test_tap.echo_factory")])
        self.assertEqual(config["listen"], ["tcp:8080:interface=127.0.0.1:backlog=511"])
        self.assertEqual(config["sockjs_options"], txsockjs.Options())
        self.assertIsNone(config["static"])
        self.assertEqual(config["shutdown-timeout"], 3.0)

    def test_every_option(self) -> None:
        """
        Every field of L{txsockjs.Options} has a flag.
        """
        config = parse(
            [
                "--handler=tests.test_tap.echo_factory",
                "--prefix=/echo/",
                "--mount",
                "/a/b=tests.test_tap.Upper",
                "--mount=c=tests.test_tap.make_upper_factory",
                "--listen=tcp:8081:interface=127.0.0.1",
                "--listen",
                "unix:/tmp/sockjs.sock",
                "--heartbeat-delay=2.5",
                "--disconnect-delay=1",
                "--response-limit=4096",
                "--no-websocket",
                "--raw-websocket",
                "--jsessionid",
                "--sockjs-url=http://example.com/sockjs.js",
                "--origin=https://example.com",
                "--origin=*.example.org:8080",
                "--origin=localhost",
                "--websocket-write-timeout=7",
                "--disable-transport=eventsource",
                "--disable-transport",
                "htmlfile",
                "--encoding=latin-1",
                "--check-origin=tests.test_tap.allow_everything",
                "--websocket-factory=tests.test_tap.websocket_factory",
                "--shutdown-timeout=0.5",
            ]
        )
        self.assertEqual(
            config["mounts"],
            [
                (("echo",), "tests.test_tap.echo_factory"),
                (("a", "b"), "tests.test_tap.Upper"),
                (("c",), "tests.test_tap.make_upper_factory"),
            ],
        )
        self.assertEqual(
            config["listen"], ["tcp:8081:interface=127.0.0.1", "unix:/tmp/sockjs.sock"]
        )
        options = config["sockjs_options"]
        self.assertEqual(options.heartbeat_delay, 2.5)
        self.assertEqual(options.disconnect_delay, 1.0)
        self.assertEqual(options.response_limit, 4096)
        self.assertFalse(options.websocket)
        self.assertTrue(options.raw_websocket)
        self.assertIs(options.jsessionid, True)
        self.assertEqual(options.sockjs_url, "http://example.com/sockjs.js")
        self.assertEqual(
            options.origins, ("example.com:443", "*.example.org:8080", "localhost:*")
        )
        self.assertEqual(options.websocket_write_timeout, 7.0)
        self.assertEqual(options.disabled_transports, {"eventsource", "htmlfile"})
        self.assertEqual(options.encoding, "latin-1")
        self.assertIs(options.check_origin, allow_everything)
        self.assertIs(options.websocket_factory, websocket_factory)
        self.assertEqual(config["shutdown-timeout"], 0.5)

    def test_websocket_compression(self) -> None:
        """
        C{--websocket-compression} gives the websockets a factory that
        accepts permessage-deflate.
        """
        from autobahn.websocket.compress import (
            PerMessageDeflateOffer,
            PerMessageDeflateOfferAccept,
        )

        options = parse(
            ["--handler=tests.test_tap.echo_factory", "--websocket-compression"]
        )["sockjs_options"]
        accept = options.websocket_factory.perMessageCompressionAccept
        self.assertIsInstance(
            accept([PerMessageDeflateOffer()]), PerMessageDeflateOfferAccept
        )
        self.assertIsNone(accept([]))

    def test_mount_only(self) -> None:
        """
        C{--mount} alone is enough; the root is a valid prefix.
        """
        config = parse(["--mount=/=tests.test_tap.Upper"])
        self.assertEqual(config["mounts"], [((), "tests.test_tap.Upper")])

    def assertUsageError(self, args: List[str], *fragments: str) -> None:
        e = self.assertRaises(usage.UsageError, parse, args)
        for fragment in fragments:
            self.assertIn(fragment, str(e))
        self.assertNotIn("\n", str(e))

    def test_usage_errors(self) -> None:
        """
        Options that cannot work are refused with a one-line message.
        """
        handler = "--handler=tests.test_tap.echo_factory"
        self.assertUsageError([], "--handler")
        self.assertUsageError(["--mount=/x"], "PREFIX=")
        self.assertUsageError(["--mount=/x="], "PREFIX=")
        self.assertUsageError([handler, "--prefix=/a", "--mount=/a/=x.y"], "/a", "twice")
        self.assertUsageError([handler, "--prefix=/a", "--mount=/a/b=x.y"], "/a/b", "inside")
        self.assertUsageError(["--mount=/a/b=x.y", "--mount=/a=x.y"], "/a/b", "inside")
        self.assertUsageError([handler, "--prefix=/", "--mount=/b=x.y"], "/b")
        self.assertUsageError([handler, "--static", temp_path(self)], "not a directory")
        os.mkdir(temp_path(self))
        self.assertUsageError([handler, "--heartbeat-delay=0"], "heartbeat-delay")
        self.assertUsageError([handler, "--heartbeat-delay=soon"], "heartbeat-delay")
        self.assertUsageError([handler, "--response-limit=1.5"], "--response-limit '1.5'", "bytes")
        self.assertUsageError([handler, "--disconnect-delay=-1"], "disconnect-delay")
        self.assertUsageError([handler, "--disable-transport=pigeon"], "pigeon")
        self.assertUsageError([handler, "--encoding=klingon"], "klingon")
        self.assertUsageError([handler, "--origin=http://"], "no host")
        self.assertUsageError([handler, "--shutdown-timeout=-1"], "shutdown-timeout")
        self.assertUsageError([handler, "--check-origin=nowhere.at.all"], "nowhere")
        self.assertUsageError([handler, "--check-origin=tests.test_tap.NOT_A_FACTORY"], "will not do")

    def test_max_queue_size(self):
        handler = "--handler=tests.test_tap.echo_factory"
        config = tap.Options()
        config.parseOptions([handler, "--max-queue-size=65536"])
        self.assertEqual(config["sockjs_options"].max_queue_size, 65536)
        config = tap.Options()
        config.parseOptions([handler])
        self.assertEqual(config["sockjs_options"].max_queue_size, 4 * 1024 * 1024)
        self.assertUsageError([handler, "--max-queue-size=0"], "--max-queue-size '0'", "characters")
        self.assertUsageError([handler, "--max-queue-size=1.5"], "max-queue-size")
        self.assertUsageError([handler, "--websocket-factory=tests.test_tap.Upper"], "will not do")
        self.assertUsageError([handler, "--max-message-size=-1"], "max-message-size")
        self.assertUsageError([handler, "--max-message-size=1.5"], "max-message-size", "bytes")
        self.assertUsageError([handler, "--streaming-write-timeout=-2"], "streaming-write-timeout")
        self.assertUsageError([handler, "--websocket-write-timeout=never"], "websocket-write-timeout")

    def test_limits(self) -> None:
        """
        The websocket and streaming limits: numbers, and 0 turns one off.
        """
        handler = "--handler=tests.test_tap.echo_factory"
        options = parse([handler])["sockjs_options"]
        self.assertEqual(options.max_message_size, 1024 * 1024)
        self.assertEqual(options.websocket_write_timeout, 10.0)
        self.assertEqual(options.streaming_write_timeout, 10.0)
        options = parse(
            [
                handler,
                "--max-message-size=65536",
                "--streaming-write-timeout=2.5",
                "--websocket-write-timeout=3",
            ]
        )["sockjs_options"]
        self.assertEqual(options.max_message_size, 65536)
        self.assertEqual(options.streaming_write_timeout, 2.5)
        self.assertEqual(options.websocket_write_timeout, 3.0)
        options = parse(
            [
                handler,
                "--max-message-size=0",
                "--streaming-write-timeout=0",
                "--websocket-write-timeout=0",
            ]
        )["sockjs_options"]
        self.assertIsNone(options.max_message_size)
        self.assertIsNone(options.streaming_write_timeout)
        self.assertIsNone(options.websocket_write_timeout)

    def test_static_needs_a_prefix(self) -> None:
        """
        C{--static} and an endpoint at the root exclude each other.
        """
        folder = temp_path(self)
        os.mkdir(folder)
        self.assertUsageError(
            ["--handler=tests.test_tap.Upper", "--prefix=/", "--static", folder], "--static"
        )


def allow_everything(request: Any) -> bool:
    return True


def websocket_factory() -> Any:
    from autobahn.twisted.websocket import WebSocketServerFactory

    return _WS_FACTORY


from autobahn.twisted.websocket import WebSocketServerFactory as _WSF  # noqa: E402

_WS_FACTORY = _WSF()
websocket_factory = _WS_FACTORY  # noqa: F811 (the instance itself is accepted)


# -- handlers ----------------------------------------------------------------------


class LoadHandlerTests(unittest.SynchronousTestCase):
    def assertServes(self, dotted: str, protocol_class: type) -> IProtocolFactory:
        factory = tap.load_handler(dotted)
        self.assertTrue(IProtocolFactory.providedBy(factory))
        self.assertIsInstance(factory.buildProtocol(None), protocol_class)
        return factory

    def test_factory_instance(self) -> None:
        self.assertIs(self.assertServes("tests.test_tap.echo_factory", Echo), echo_factory)

    def test_factory_class(self) -> None:
        self.assertIsInstance(self.assertServes("tests.test_tap.UpperFactory", Upper), UpperFactory)

    def test_protocol_class(self) -> None:
        self.assertServes("tests.test_tap.Upper", Upper)
        self.assertServes("twisted.protocols.wire.Echo", Echo)

    def test_callable(self) -> None:
        self.assertServes("tests.test_tap.make_upper_factory", Upper)
        self.assertServes("tests.test_tap.returns_protocol_class", Upper)

    def assertHandlerError(self, dotted: str, *fragments: str) -> None:
        e = self.assertRaises(tap.HandlerError, tap.load_handler, dotted)
        message = str(e)
        self.assertNotIn("\n", message)
        for fragment in fragments:
            self.assertIn(fragment, message)

    def test_errors(self) -> None:
        """
        Each way a name can be wrong gives a one-line message that says
        which.
        """
        self.assertHandlerError(
            "no_such_module_here.x", "no module named 'no_such_module_here' on sys.path", "PYTHONPATH"
        )
        self.assertHandlerError("tests.test_tap.nothing_here", "nothing_here")
        self.assertHandlerError("tests.no_such_submodule.x", "no_such_submodule")
        self.assertHandlerError("", "empty")
        self.assertHandlerError("a..b", "a..b")
        self.assertHandlerError("tests.test_tap.NOT_A_FACTORY", "int 42", "not a protocol factory")
        self.assertHandlerError("tests.test_tap.NotAProtocol", "NotAProtocol", "neither")
        self.assertHandlerError("tests.test_tap.NeedsArguments", "NeedsArguments", "no arguments")
        self.assertHandlerError("tests.test_tap.returns_junk", "returned str 'junk'")
        self.assertHandlerError("tests.test_tap.raises", "RuntimeError", "no factory today")

    def test_module_that_fails_to_import(self) -> None:
        """
        A module that raises while it is imported is reported in one line
        with the exception.
        """
        folder = temp_path(self)
        os.makedirs(folder)
        with open(os.path.join(folder, "txsockjs_broken_handler.py"), "w") as f:
            f.write("import os\nraise ValueError('half written')\n")
        sys.path.insert(0, folder)
        self.addCleanup(sys.path.remove, folder)
        self.addCleanup(sys.modules.pop, "txsockjs_broken_handler", None)
        self.assertHandlerError(
            "txsockjs_broken_handler.factory", "ValueError", "half written"
        )

    def test_makeService_exits_in_one_line(self) -> None:
        """
        L{tap.makeService} turns a bad handler into C{SystemExit} with a
        one-line message (exit status 1, no traceback).
        """
        config = parse(["--handler=tests.test_tap.nothing_here"])
        e = self.assertRaises(SystemExit, tap.makeService, config)
        self.assertIsInstance(e.code, str)
        self.assertTrue(e.code.startswith("twistd sockjs: handler"))
        self.assertIn("nothing_here", e.code)
        self.assertNotIn("\n", e.code)

    def test_bad_listen(self) -> None:
        """
        A C{--listen} description that names no endpoint ends the same way.
        """
        config = parse(["--handler=tests.test_tap.Upper", "--listen=pigeon:42"])
        e = self.assertRaises(SystemExit, tap.makeService, config)
        self.assertIn("--listen 'pigeon:42'", e.code)
        self.assertNotIn("\n", e.code)


# -- the service without the network -------------------------------------------------


class FakeSession:
    def __init__(self, state: SessionState = SessionState.OPEN) -> None:
        self.state = state
        self.closed_with: List[tuple] = []

    def close(self, code: int, reason: str) -> None:
        self.closed_with.append((code, reason))
        if self.state is SessionState.OPEN:
            self.state = SessionState.CLOSING


class FakeResource:
    def __init__(self, *sessions: FakeSession) -> None:
        self.sessions = list(sessions)
        self.websocket_sessions: set = set()

    def close_all(self, code: int, reason: str) -> None:
        for session in self.sessions:
            session.close(code, reason)


class ServiceShutdownTests(unittest.SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = task.Clock()

    def make(self, *resources: FakeResource, timeout: float = 3.0) -> tap.SockJSService:
        from twisted.web.server import Site

        return tap.SockJSService(
            Site(web_resource.Resource()),
            {f"/r{i}": r for i, r in enumerate(resources)},
            shutdown_timeout=timeout,
            reactor=self.clock,
        )

    def test_waits_for_close_frames(self) -> None:
        """
        Stopping closes every session with 1001, then waits until each has
        handed its close frame to a receiver, plus a short drain.
        """
        a, b = FakeSession(), FakeSession()
        svc = self.make(FakeResource(a), FakeResource(b))
        svc.startService()
        d = svc.stopService()
        self.assertEqual(a.closed_with, [(1001, "Server shutting down")])
        self.assertEqual(b.closed_with, [(1001, "Server shutting down")])
        self.assertNoResult(d)
        a.state = b.state = SessionState.CLOSED
        self.clock.advance(svc.poll_interval)
        self.assertNoResult(d)
        self.clock.advance(svc.drain_delay)
        self.successResultOf(d)
        self.assertFalse(svc.running)

    def test_bounded(self) -> None:
        """
        A session whose client never comes back for its close frame does not
        hold the shutdown longer than C{shutdown_timeout}.
        """
        stuck = FakeSession()
        svc = self.make(FakeResource(stuck), timeout=1.0)
        svc.startService()
        d = svc.stopService()
        for _ in range(int(1.0 / svc.poll_interval) + 2):
            self.clock.advance(svc.poll_interval)
        self.successResultOf(d)
        self.assertEqual(stuck.state, SessionState.CLOSING)

    def test_nothing_open(self) -> None:
        """
        With no sessions, stopping takes only the drain delay.
        """
        svc = self.make(FakeResource(FakeSession(SessionState.CLOSED)))
        svc.startService()
        d = svc.stopService()
        self.clock.advance(svc.drain_delay)
        self.successResultOf(d)

    def test_factories_stopped_by_the_site_after_the_close_frames(self) -> None:
        """
        The site starts the application factories when the service listens
        (once, however many ports); stopping the service closes the sessions
        first, and the site stops the factories when its ports are closed.
        """
        events: List[object] = []
        session = FakeSession()

        class Recording(Factory):
            def startFactory(self):
                events.append("start")

            def stopFactory(self):
                events.append(("stop", session.closed_with))

        site = SockJSSite(web_resource.Resource(), factories=[Recording()], reactor=self.clock)
        svc = tap.SockJSService(
            site, {"/r": FakeResource(session)}, reactor=self.clock
        )
        svc.listen(MemoryEndpoint())
        svc.listen(MemoryEndpoint())
        svc.startService()
        self.assertEqual(events, ["start"])
        d = svc.stopService()
        self.assertEqual(events, ["start"])
        session.state = SessionState.CLOSED
        self.clock.advance(svc.poll_interval)
        self.clock.advance(svc.drain_delay)
        self.successResultOf(d)
        self.assertEqual(events, ["start", ("stop", [(1001, "Server shutting down")])])


@implementer(IStreamServerEndpoint)
class MemoryEndpoint:
    """
    Listens as a port does for its factory (C{doStart}, C{doStop} when it
    stops listening), without a socket.
    """

    def listen(self, factory: Factory) -> defer.Deferred:
        factory.doStart()
        port = MemoryPort(factory)
        return defer.succeed(port)


class MemoryPort:
    def __init__(self, factory: Factory) -> None:
        self.factory = factory

    def stopListening(self) -> defer.Deferred:
        self.factory.doStop()
        return defer.succeed(None)


class BuildRootTests(unittest.SynchronousTestCase):
    def test_tree(self) -> None:
        """
        Endpoints are mounted at their prefixes, intermediate folders of the
        static directory are kept.
        """
        folder = temp_path(self)
        os.makedirs(os.path.join(folder, "a"))
        one, two = web_resource.Resource(), web_resource.Resource()
        root = tap.build_root([(("a", "one"), one), (("two",), two)], folder)
        self.assertIsInstance(root, static.File)
        a = root.children[b"a"]
        self.assertIsInstance(a, static.File)
        self.assertIs(a.children[b"one"], one)
        self.assertIs(root.children[b"two"], two)

    def test_root_mount(self) -> None:
        """
        An endpoint at C{/} is the site's root.
        """
        only = web_resource.Resource()
        self.assertIs(tap.build_root([((), only)]), only)


# -- the service on a real port --------------------------------------------------


class ServiceTests(HTTPClientMixin, unittest.TestCase):
    timeout = 30

    def start(self, *args: str) -> tap.SockJSService:
        # no waiting at the end for clients that will not come back for
        # their close frame, unless the test is about that
        config = parse(["--listen=tcp:0:interface=127.0.0.1", "--shutdown-timeout=0", *args])
        # the reactor, its timers remembered: the sessions keep a disconnect
        # timer after they close, cancelled at the end rather than waited out
        self.clock = TrackingClock()
        svc = tap.build_service(config, reactor=self.clock)
        svc.startService()
        self.addCleanup(self.stop, svc)
        # a TCP port listens at once
        self.assertEqual(len(svc.ports), 1)
        self.port = svc.ports[0].getHost().port
        self.base = f"http://127.0.0.1:{self.port}"
        return svc

    @defer.inlineCallbacks
    def stop(self, svc: tap.SockJSService):
        if svc.running:
            yield svc.stopService()
        self.clock.cancel_all()

    @defer.inlineCallbacks
    def test_serves_handlers(self) -> None:
        """
        Each mount serves its handler over xhr and over websocket.
        """
        self.start(
            "--handler=tests.test_tap.echo_factory",
            "--prefix=/echo",
            "--mount=/deep/upper=tests.test_tap.Upper",
        )
        response = yield self.get(self.base + "/echo")
        self.assertEqual((yield response.text()), "Welcome to SockJS!\n")
        response = yield self.get(self.base + "/nothing")
        self.assertEqual(response.code, 404)
        yield response.content()

        url = self.base + "/echo/000/s1"
        self.assertEqual((yield (yield self.post(url + "/xhr")).text()), "o\n")
        response = yield self.post(url + "/xhr_send", data=b'["hello, world"]')
        self.assertEqual(response.code, 204)
        yield response.content()
        self.assertEqual(
            (yield (yield self.post(url + "/xhr")).text()), 'a["hello, world"]\n'
        )

        client = yield connect_ws(self.port, "/deep/upper/000/s2/websocket")
        self.assertEqual((yield client.next_message()), "o")
        client.sendMessage(json.dumps(["shout"]).encode())
        self.assertEqual((yield client.next_message()), 'a["SHOUT"]')
        client.sendClose()
        yield client.closed

    @defer.inlineCallbacks
    def test_port_in_use(self) -> None:
        """
        A port that cannot be listened on ends the start with a one-line
        C{SystemExit} naming it.
        """
        taken = yield serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(
            Factory.forProtocol(Protocol)
        )
        self.addCleanup(taken.stopListening)
        number = taken.getHost().port
        svc = tap.makeService(
            parse(["--handler=tests.test_tap.Upper", f"--listen=tcp:{number}:interface=127.0.0.1"])
        )
        e = self.assertRaises(SystemExit, svc.privilegedStartService)
        self.assertIn(f"cannot listen on tcp:{number}:interface=127.0.0.1", e.code)
        self.assertNotIn("\n", e.code)
        yield svc.stopService()

    @defer.inlineCallbacks
    def test_static(self) -> None:
        """
        C{--static} serves a folder beside the endpoints.
        """
        folder = temp_path(self)
        os.makedirs(folder)
        with open(os.path.join(folder, "index.html"), "w") as f:
            f.write("<p>demo</p>")
        self.start("--handler=tests.test_tap.Upper", "--prefix=/upper", "--static", folder)
        self.assertEqual((yield (yield self.get(self.base + "/index.html")).text()), "<p>demo</p>")
        response = yield self.get(self.base + "/upper/info")
        info = yield response.json()
        self.assertTrue(info["websocket"])

    @defer.inlineCallbacks
    def test_options_reach_the_endpoint(self) -> None:
        """
        The endpoint flags configure the endpoints (as seen in C{/info}).
        """
        self.start(
            "--handler=tests.test_tap.Upper",
            "--prefix=/",
            "--no-websocket",
            "--jsessionid",
        )
        info = yield (yield self.get(self.base + "/info")).json()
        self.assertFalse(info["websocket"])
        self.assertTrue(info["cookie_needed"])

    @defer.inlineCallbacks
    def test_shutdown_closes_sessions(self) -> None:
        """
        Stopping the service sends C{c[1001,"Server shutting down"]} to a
        streaming client, a websocket client and a polling client, then
        stops listening.
        """
        svc = self.start(
            "--handler=tests.test_tap.echo_factory", "--prefix=/echo", "--shutdown-timeout=2"
        )
        chunks, done = yield self.open_stream(self.base + "/echo/000/stream/xhr_streaming")
        client = yield connect_ws(self.port, "/echo/000/ws/websocket")
        self.assertEqual((yield client.next_message()), "o")
        poll = self.base + "/echo/000/poll/xhr"
        self.assertEqual((yield (yield self.post(poll)).text()), "o\n")

        started = reactor.seconds()
        stopped = svc.stopService()
        # the polling client comes back for its frame
        self.assertEqual((yield (yield self.post(poll)).text()), SHUTDOWN_FRAME + "\n")
        self.assertEqual((yield client.next_message()), SHUTDOWN_FRAME)
        yield done
        self.assertTrue(b"".join(chunks).endswith(b"o\n" + SHUTDOWN_FRAME.encode() + b"\n"))
        yield stopped
        self.assertLess(reactor.seconds() - started, 2)
        yield client.closed
        with self.assertRaises(error.ConnectError):
            yield self.get(self.base + "/echo")


# -- the real twistd ------------------------------------------------------------------


class _Collector(protocol.ProcessProtocol):
    def __init__(self) -> None:
        self.out = bytearray()
        self.err = bytearray()
        self.ended: defer.Deferred = defer.Deferred()
        self._waiting: List[Tuple[bytes, defer.Deferred]] = []

    def outReceived(self, data: bytes) -> None:
        self.out += data
        self._check()

    def errReceived(self, data: bytes) -> None:
        self.err += data
        self._check()

    def processEnded(self, reason) -> None:
        waiting, self._waiting = self._waiting, []
        for needle, d in waiting:
            d.errback(AssertionError(f"ended without {needle!r}: {bytes(self.out + self.err).decode()}"))
        self.ended.callback(reason.value)

    def printed(self, needle: bytes, timeout: float = 10) -> defer.Deferred:
        """
        Fires once the process printed C{needle} (on stdout or stderr).
        """
        d: defer.Deferred = defer.Deferred()
        self._waiting.append((needle, d))
        self._check()
        return bounded(d, timeout)

    def _check(self) -> None:
        output = bytes(self.out + self.err)
        waiting, self._waiting = self._waiting, []
        for needle, d in waiting:
            if needle in output:
                d.callback(None)
            else:
                self._waiting.append((needle, d))


def spawn_twistd(test: unittest.TestCase, *args: str, copy_linechat: bool = False) -> _Collector:
    """
    Run C{twistd -n sockjs ARGS} with the repository on the path, in a
    fresh directory (holding a copy of examples/linechat.py when asked).
    """
    cwd = temp_path(test)
    os.makedirs(cwd)
    if copy_linechat:
        shutil.copy(os.path.join(ROOT, "examples", "linechat.py"), cwd)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    collector = _Collector()
    argv = [
        sys.executable,
        "-c",
        # as the twistd script: the current directory is not on sys.path
        "import sys; sys.path.remove(''); from twisted.scripts.twistd import run; run()",
        "-n",
        "--pidfile=",
        "--logfile=-",
        "sockjs",
        *args,
    ]
    collector.transport = reactor.spawnProcess(collector, sys.executable, argv, env=env, path=cwd)
    return collector


class TwistdTests(HTTPClientMixin, unittest.TestCase):
    timeout = 60

    def kill_later(self, process: _Collector) -> None:
        def cleanup():
            if not process.ended.called:
                try:
                    os.kill(process.transport.pid, signal.SIGKILL)
                except OSError:
                    pass
            return process.ended

        self.addCleanup(cleanup)

    @defer.inlineCallbacks
    def test_bad_handler(self) -> None:
        """
        A handler that does not import ends C{twistd} at once with one line
        on stderr and exit status 1.
        """
        process = spawn_twistd(self, "--handler=no_such_package.factory", "--listen=tcp:0")
        self.kill_later(process)
        reason = yield process.ended
        self.assertIsInstance(reason, error.ProcessTerminated)
        self.assertEqual(reason.exitCode, 1)
        err = bytes(process.err).decode()
        self.assertNotIn("Traceback", err + bytes(process.out).decode())
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("no_such_package", err)

    @defer.inlineCallbacks
    def test_module_beside_twistd_without_pythonpath(self) -> None:
        """
        A handler module in the current directory, which twistd does not put
        on sys.path: one line says the module was not found and to set
        PYTHONPATH.
        """
        process = spawn_twistd(self, "--handler=linechat.factory", "--listen=tcp:0", copy_linechat=True)
        self.kill_later(process)
        reason = yield process.ended
        self.assertEqual(reason.exitCode, 1)
        err = bytes(process.err).decode()
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("no module named 'linechat' on sys.path", err)
        self.assertIn("PYTHONPATH=.", err)

    @defer.inlineCallbacks
    def test_bad_value_is_one_line(self) -> None:
        """
        A bad option value ends twistd with one line naming it, not
        twistd's page of usage.
        """
        process = spawn_twistd(self, "--handler=tests.test_tap.Upper", "--heartbeat-delay=soon")
        self.kill_later(process)
        reason = yield process.ended
        self.assertEqual(reason.exitCode, 1)
        output = (bytes(process.err) + bytes(process.out)).decode()
        self.assertEqual(len(output.strip().splitlines()), 1, output)
        self.assertIn("--heartbeat-delay 'soon'", output)
        self.assertIn("--help", output)

    @defer.inlineCallbacks
    def test_serve_and_sigterm(self) -> None:
        """
        The real C{twistd -n sockjs} serves a handler; SIGTERM closes the
        open xhr_streaming and websocket sessions with the 1001 close frame,
        and the process exits cleanly.
        """
        port = free_port()
        process = spawn_twistd(
            self,
            "--handler=tests.test_tap.echo_factory",
            "--prefix=/echo",
            f"--listen=tcp:{port}:interface=127.0.0.1",
        )
        self.kill_later(process)
        base = f"http://127.0.0.1:{port}/echo"
        # twistd says so once it listens
        yield process.printed(f"starting on {port}".encode())
        self.assertEqual((yield (yield self.get(base)).text()), "Welcome to SockJS!\n")
        chunks, done = yield self.open_stream(base + "/000/stream/xhr_streaming")
        client = yield connect_ws(port, "/echo/000/ws/websocket")
        self.assertEqual((yield client.next_message()), "o")
        client.sendMessage(b'["ping"]')
        self.assertEqual((yield client.next_message()), 'a["ping"]')

        os.kill(process.transport.pid, signal.SIGTERM)
        self.assertEqual((yield client.next_message(timeout=10)), SHUTDOWN_FRAME)
        yield done.addTimeout(10, reactor)
        self.assertTrue(b"".join(chunks).endswith(SHUTDOWN_FRAME.encode() + b"\n"))
        yield client.closed
        reason = yield process.ended
        # twistd ends by re-raising the signal it got, after a clean shutdown
        output = bytes(process.out + process.err)
        if isinstance(reason, error.ProcessTerminated) and reason.signal is not None:
            self.assertEqual(reason.signal, signal.SIGTERM, output)
        else:
            self.assertEqual(reason.exitCode, 0, output)
        self.assertIn(b"Server Shut Down.", output)
        self.assertNotIn(b"Traceback", output)


class HTTPLimitFlagTests(unittest.SynchronousTestCase):
    def test_flags_reach_options_and_site(self) -> None:
        """
        The HTTP limit flags set the L{txsockjs.Options} fields (0 turns a
        limit off), and the service listens with a L{txsockjs.SockJSSite}
        holding them.
        """
        config = parse(
            [
                "--handler=tests.test_tap.echo_factory",
                "--max-body-size=4096",
                "--header-timeout=2.5",
                "--idle-timeout=0",
                "--max-connections=300",
                "--max-sessions=0",
            ]
        )
        options = config["sockjs_options"]
        self.assertEqual(
            (
                options.max_body_size,
                options.header_timeout,
                options.idle_timeout,
                options.max_connections,
                options.max_sessions,
            ),
            (4096, 2.5, None, 300, None),
        )
        svc = tap.build_service(config)
        self.assertIsInstance(svc.site, txsockjs.SockJSSite)
        self.assertEqual(
            (svc.site.max_body_size, svc.site.header_timeout, svc.site.timeOut, svc.site.max_connections),
            (4096, 2.5, None, 300),
        )

    def test_defaults(self) -> None:
        options = parse(["--handler=tests.test_tap.echo_factory"])["sockjs_options"]
        self.assertEqual(options.max_body_size, 2 * 1024 * 1024)
        self.assertEqual(options.max_connections, txsockjs.options.default_max_connections())

    def test_bad_values(self) -> None:
        for flag in ("--max-body-size=-1", "--header-timeout=soon", "--max-connections=1.5"):
            with self.assertRaises(usage.UsageError, msg=flag):
                parse(["--handler=tests.test_tap.echo_factory", flag])
