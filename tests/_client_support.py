"""
What the live client tests share: the servers they talk to (txsockjs's
examples/test_server.py and sockjs-node 0.3.24, as subprocesses on free
127.0.0.1 ports, stopped by PID), a recording protocol, and the tests every
(server, transport) pair runs.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
from typing import Any, Dict, List, Optional

from twisted.internet import defer, reactor
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure

from txsockjs import SessionState
from txsockjs.client import SockJSClientEndpoint, SockJSCloseDone, SockJSConnectError, SockJSConnectionLost

from .e2e.support import Server

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
NODE_PEER = os.path.join(HERE, "peers", "sockjs-node")
NODE_SOCKJS = os.path.join(NODE_PEER, "node_modules", "sockjs", "package.json")

_running: Dict[str, Server] = {}


def server_argv(kind: str) -> List[str]:
    if kind == "txsockjs":
        return [sys.executable, os.path.join(REPO, "examples", "test_server.py"), "--port", "0"]
    return ["node", os.path.join(NODE_PEER, "server.js"), "--port", "0"]


def node_peer_missing() -> Optional[str]:
    """
    Why sockjs-node cannot run here, or C{None}.
    """
    if shutil.which("node") is None:
        return "node is missing"
    if not os.path.exists(NODE_SOCKJS):
        return "tests/peers/sockjs-node is not installed: run `bash scripts/install-test-deps.sh`"
    return None


def start_server(kind: str) -> Server:
    """
    A new server of C{kind} (C{"txsockjs"} or C{"sockjs-node"}); the caller
    stops it.
    """
    env_path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = REPO + (os.pathsep + env_path if env_path else "")
    try:
        return Server(server_argv(kind), kind)
    finally:
        if env_path is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = env_path


def shared_server(kind: str) -> str:
    """
    The base URL of the server of C{kind} shared by a module's tests.
    """
    if kind not in _running:
        _running[kind] = start_server(kind)
    return _running[kind].url


def stop_shared_servers() -> None:
    while _running:
        _, server = _running.popitem()
        server.stop()


# runners that do not call tearDownModule (trial) stop them at exit
atexit.register(stop_shared_servers)


class Recorder(Protocol):
    """
    Queues what it receives; C{lost} fires with the exception connectionLost got.
    """

    def __init__(self) -> None:
        self.queue: defer.DeferredQueue = defer.DeferredQueue()
        self.lost: defer.Deferred = defer.Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.queue.put(data)

    def connectionLost(self, reason: Failure) -> None:  # type: ignore[override]
        # the exception, not the Failure: a Failure would fire lost's errbacks
        self.lost.callback(reason.value)

    def next(self) -> defer.Deferred:
        return self.queue.get().addTimeout(15, reactor)


class TextRecorder(Recorder):
    def messageReceived(self, message: str) -> None:
        self.queue.put(message)


class LiveClientTests:
    """
    Mixed into a trial TestCase with C{server} (C{"txsockjs"} or
    C{"sockjs-node"}) and C{transport} set.
    """

    server = "txsockjs"
    transport = "websocket"
    timeout = 60

    def base(self) -> str:
        return shared_server(self.server)

    def endpoint(self, path: str, transports: Optional[List[str]] = None, base: Optional[str] = None) -> SockJSClientEndpoint:
        return SockJSClientEndpoint(reactor, (base or self.base()) + path, transports or [self.transport], timeout=15)

    @defer.inlineCallbacks
    def connect(self, path: str = "/echo", protocol: type = Recorder, **kwargs: Any):
        client = yield self.endpoint(path, **kwargs).connect(Factory.forProtocol(protocol))
        self.addCleanup(self.ensure_closed, client)  # type: ignore[attr-defined]
        return client

    def ensure_closed(self, client: Recorder) -> defer.Deferred:
        session = client.transport
        if session is not None and session.state is SessionState.OPEN:
            session.close()
        return client.lost.addTimeout(15, reactor).addErrback(lambda f: None)

    @defer.inlineCallbacks
    def assertEcho(self, client: Recorder, messages: List[Any]):
        for message in messages:
            if isinstance(message, bytes):
                client.transport.write(message)
            else:
                client.transport.send(message)
        for message in messages:
            got = yield client.next()
            self.assertEqual(got, message)  # type: ignore[attr-defined]

    @defer.inlineCallbacks
    def test_echo(self):
        """
        Each write is one message and comes back as one dataReceived; a
        close ends with 1000.
        """
        client = yield self.connect()
        session = client.transport
        self.assertEqual(session.transport_name, self.transport)
        self.assertEqual(session.getPeer().url, self.base() + "/echo")
        yield self.assertEcho(client, [b"hello", b"world", "caf\u00e9".encode()])
        session.writeSequence([b"one ", b"message"])
        self.assertEqual((yield client.next()), b"one message")
        session.close()
        reason = yield client.lost
        self.assertIsInstance(reason, SockJSCloseDone)  # type: ignore[attr-defined]
        self.assertEqual((reason.code, reason.reason), (1000, "Normal closure"))
        yield session.closed
        self.assertEqual(client.factory.numPorts, 0)  # stopped, as TCP endpoints do
        self.assertEqual(session.state, SessionState.CLOSED)

    @defer.inlineCallbacks
    def test_unicode(self):
        client = yield self.connect(protocol=TextRecorder)
        yield self.assertEcho(
            client,
            [
                "\u00fcn\u00efc\u00f8d\u00e9 \u2603 \U0001f600",
                "\u2028\u2029 \x00\x01\x1f \ufeff \u200c \u0600 \ufff0\uffff",
                '"quotes" \\ back\\slash\n new line\t tab',
                "[\"a\",\"b\"]",
                "\u4e2d\u6587" * 50,
            ],
        )

    @defer.inlineCallbacks
    def test_lone_surrogates(self):
        """
        Lone surrogates (which JavaScript strings may hold) go and come
        back unchanged; a byte protocol sees their surrogatepass bytes.
        """
        client = yield self.connect(protocol=TextRecorder)
        yield self.assertEcho(client, ["\ud800", "a\udfffb", "\udc00\ud800"])
        raw = yield self.connect()
        raw.transport.send("x\ud800")
        self.assertEqual((yield raw.next()), b"x\xed\xa0\x80")

    @defer.inlineCallbacks
    def test_100kb(self):
        client = yield self.connect(protocol=TextRecorder)
        big = ("x\u00e9\u2603" * 34134)[:102400]
        yield self.assertEcho(client, [big, big[::-1]])

    @defer.inlineCallbacks
    def test_many_in_order(self):
        """
        Messages written back to back (batched while a send is in flight)
        arrive once each, in order.
        """
        client = yield self.connect(protocol=TextRecorder)
        for n in range(200):
            client.transport.send(str(n))
        got = []
        for n in range(200):
            got.append((yield client.next()))
        self.assertEqual(got, [str(n) for n in range(200)])

    @defer.inlineCallbacks
    def test_server_close(self):
        """
        /close closes every session with 3000 "Go away!".
        """
        client = yield self.connect("/close")
        reason = yield client.lost.addTimeout(15, reactor)
        self.assertIsInstance(reason, SockJSCloseDone)  # type: ignore[attr-defined]
        self.assertEqual((reason.code, reason.reason), (3000, "Go away!"))

    @defer.inlineCallbacks
    def test_disabled_websocket(self):
        """
        /info says no websocket: the client goes on with the next transport,
        or fails when websocket was the only one allowed.
        """
        if self.transport == "websocket":
            d = self.endpoint("/disabled_websocket_echo").connect(Factory.forProtocol(Recorder))
            failure = yield self.assertFailure(d, SockJSConnectError)  # type: ignore[attr-defined]
            self.assertIn("websocket", str(failure))
            client = yield self.connect("/disabled_websocket_echo", transports=["websocket", "xhr-polling"])
            self.assertEqual(client.transport.transport_name, "xhr-polling")
        else:
            client = yield self.connect("/disabled_websocket_echo", transports=["websocket", self.transport])
            self.assertEqual(client.transport.transport_name, self.transport)
        self.assertFalse(client.transport.info.websocket)
        yield self.assertEcho(client, [b"after fallback"])

    @defer.inlineCallbacks
    def test_cookie_needed(self):
        client = yield self.connect("/cookie_needed_echo")
        self.assertTrue(client.transport.info.cookie_needed)
        yield self.assertEcho(client, [b"with a cookie", b"still"])

    @defer.inlineCallbacks
    def test_server_disappears(self):
        """
        A server that dies: the protocol gets a lost connection (1006).
        """
        server = start_server(self.server)
        try:
            client = yield self.connect(base=server.url)
            yield self.assertEcho(client, [b"before"])
            server.process.kill()
            server.process.wait(10)
            reason = yield client.lost.addTimeout(15, reactor)
        finally:
            server.stop()
        self.assertIsInstance(reason, SockJSConnectionLost)  # type: ignore[attr-defined]
        self.assertEqual(reason.code, 1006)
