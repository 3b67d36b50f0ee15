"""
Tests for L{txsockjs.multiplex}: the websocket-multiplex protocol over a
transport that looks like a SockJS session.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import List

from twisted.internet import defer, utils
from twisted.internet.address import IPv4Address
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.protocols import wire
from twisted.python.failure import Failure
from twisted.trial import unittest

from txsockjs.multiplex import ChannelTransport, MultiplexFactory, js_escape

from ._helpers import TrackingClock, bounded, connect_ws


class SessionLike(StringTransport):
    """
    A transport with the text API of a SockJS session: C{send(str)}.
    """

    def __init__(self) -> None:
        super().__init__(
            hostAddress=IPv4Address("TCP", "127.0.0.1", 8080),
            peerAddress=IPv4Address("TCP", "10.0.0.1", 5555),
        )
        self.messages: List[str] = []
        self.closed = False

    def send(self, message: str) -> None:
        if self.closed:
            from txsockjs.session import SessionNotOpen

            raise SessionNotOpen("closed")
        assert type(message) is str
        self.messages.append(message)


class Recorder(Protocol):
    """
    Records what happens to it.
    """

    def __init__(self) -> None:
        self.events: List[object] = []

    def connectionMade(self) -> None:
        self.events.append("made")
        self.factory.instances.append(self)

    def dataReceived(self, data: bytes) -> None:
        self.events.append(data)

    def connectionLost(self, reason: Failure) -> None:
        self.events.append(reason)


class TextRecorder(Recorder):
    def messageReceived(self, message: str) -> None:
        self.events.append(("text", message))


class RecorderFactory(Factory):
    protocol = Recorder

    def __init__(self) -> None:
        self.instances: List[Recorder] = []
        self.addresses: List[object] = []
        self.started = 0
        self.stopped = 0

    def buildProtocol(self, addr):
        self.addresses.append(addr)
        return super().buildProtocol(addr)

    def startFactory(self) -> None:
        self.started += 1

    def stopFactory(self) -> None:
        self.stopped += 1


class MultiplexTests(unittest.TestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.chat = RecorderFactory()
        self.ticker = RecorderFactory()
        self.ticker.protocol = TextRecorder
        self.factory = MultiplexFactory(
            {"chat": self.chat, "ticker": self.ticker, "my room": wire.Echo},
            reactor=self.clock,
        )
        self.session = SessionLike()
        self.peer = self.session.getPeer()
        self.mux = self.factory.buildProtocol(self.peer)
        self.mux.makeConnection(self.session)

    def receive(self, *messages: str) -> None:
        for message in messages:
            self.mux.messageReceived(message)

    def test_subscribe(self) -> None:
        """
        C{sub,topic} builds a protocol from that channel's factory, with the
        session's peer as address, and connects it to a transport of its own.
        """
        self.receive("sub,chat")
        [protocol] = self.chat.instances
        self.assertEqual(protocol.events, ["made"])
        self.assertEqual(self.chat.addresses, [self.peer])
        self.assertIsInstance(protocol.transport, ChannelTransport)
        self.assertEqual(protocol.transport.topic, "chat")
        self.assertIs(protocol.transport.session, self.session)
        self.assertEqual(protocol.transport.getPeer(), self.peer)
        self.assertEqual(protocol.transport.getHost(), self.session.getHost())
        self.assertEqual(self.session.messages, [])

    def test_message_with_commas(self) -> None:
        """
        C{msg,topic,payload} hands the whole payload, commas included, to the
        channel's protocol as UTF-8 bytes.
        """
        self.receive("sub,chat", "msg,chat,a,b,,c\u00e9", "msg,chat,")
        [protocol] = self.chat.instances
        self.assertEqual(protocol.events, ["made", "a,b,,c\u00e9".encode(), b""])

    def test_message_as_text(self) -> None:
        """
        A channel protocol with C{messageReceived} gets text.
        """
        self.receive("sub,ticker", "msg,ticker,1,2")
        [protocol] = self.ticker.instances
        self.assertEqual(protocol.events, ["made", ("text", "1,2")])

    def test_write(self) -> None:
        """
        What a channel's protocol writes goes out as C{msg,topic,payload}, one
        message per write.
        """
        self.receive("sub,chat", "sub,ticker")
        chat, ticker = self.chat.instances[0], self.ticker.instances[0]
        chat.transport.write(b"hello, world")
        ticker.transport.writeSequence([b"4", b"2"])
        ticker.transport.send("t\u00e9xt")
        self.assertEqual(
            self.session.messages,
            ["msg,chat,hello, world", "msg,ticker,42", "msg,ticker,t\u00e9xt"],
        )

    def test_echo(self) -> None:
        """
        L{twisted.protocols.wire.Echo} serves a channel unchanged; channel
        names are matched as JavaScript's C{escape} sends them.
        """
        self.receive("sub,my%20room", "msg,my%20room,ping,pong")
        self.assertEqual(self.session.messages, ["msg,my%20room,ping,pong"])

    def test_unknown_channel(self) -> None:
        """
        A subscription to a channel nobody registered is refused with
        C{uns,topic}; messages on it are ignored.
        """
        self.receive("sub,nope", "msg,nope,x", "uns,nope", "what,ever", "")
        self.assertEqual(self.session.messages, ["uns,nope"])
        self.assertEqual(self.mux.channels, {})

    def test_refused_by_factory(self) -> None:
        """
        A factory whose C{buildProtocol} returns L{None} refuses the
        subscription with C{uns,topic}.
        """
        self.chat.buildProtocol = lambda addr: None
        self.receive("sub,chat")
        self.assertEqual(self.session.messages, ["uns,chat"])
        self.assertEqual(self.mux.channels, {})

    def test_client_unsubscribes(self) -> None:
        """
        C{uns,topic} from the client ends that channel's protocol cleanly and
        sends nothing back; a later C{sub} builds a new protocol.
        """
        self.receive("sub,chat", "sub,ticker", "uns,chat", "msg,chat,late")
        first = self.chat.instances[0]
        self.assertEqual(len(first.events), 2)
        first.events[1].trap(ConnectionDone)
        self.assertEqual(self.session.messages, [])
        self.assertEqual(list(self.mux.channels), ["ticker"])
        self.receive("sub,chat", "msg,chat,again")
        self.assertEqual(len(self.chat.instances), 2)
        self.assertEqual(self.chat.instances[1].events, ["made", b"again"])

    def test_duplicate_subscription(self) -> None:
        """
        A second C{sub} for an open channel changes nothing.
        """
        self.receive("sub,chat", "sub,chat")
        self.assertEqual(len(self.chat.instances), 1)

    def test_server_closes_channel(self) -> None:
        """
        A channel's C{loseConnection} sends C{uns,topic}; its protocol gets
        C{connectionLost} in the next turn, and nothing it writes after
        goes out.
        """
        self.receive("sub,chat", "sub,ticker")
        chat = self.chat.instances[0]
        chat.transport.loseConnection()
        chat.transport.write(b"ignored")
        chat.transport.loseConnection()
        self.receive("msg,chat,ignored too")
        self.assertEqual(self.session.messages, ["uns,chat"])
        self.assertEqual(chat.events, ["made"])
        self.clock.advance(0)
        self.assertEqual(len(chat.events), 2)
        chat.events[1].trap(ConnectionDone)
        self.assertFalse(chat.transport.connected)
        self.assertEqual(list(self.mux.channels), ["ticker"])
        self.assertFalse(self.session.disconnecting)

    def test_session_closed(self) -> None:
        """
        When the session ends, every open channel's protocol gets
        C{connectionLost} with the session's reason, once.
        """
        self.receive("sub,chat", "sub,ticker")
        chat, ticker = self.chat.instances[0], self.ticker.instances[0]
        chat.transport.loseConnection()
        reason = Failure(ConnectionLost("gone"))
        self.mux.connectionLost(reason)
        self.clock.advance(0)
        self.assertIs(ticker.events[-1], reason)
        self.assertEqual(len(ticker.events), 2)
        self.assertEqual(len(chat.events), 2)
        self.assertEqual(self.mux.channels, {})

    def test_write_after_session_closed(self) -> None:
        """
        Writing on a channel whose session is closing is silently dropped.
        """
        self.receive("sub,chat")
        self.session.closed = True
        self.chat.instances[0].transport.write(b"late")
        self.assertEqual(self.session.messages, [])

    def test_protocol_failure_closes_channel(self) -> None:
        """
        A channel protocol that raises on a message loses its channel; the
        others carry on.
        """

        class Broken(Recorder):
            def dataReceived(self, data):
                raise RuntimeError("boom")

        self.chat.protocol = Broken
        self.receive("sub,chat", "sub,ticker", "msg,chat,x", "msg,ticker,y")
        self.clock.advance(0)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertEqual(self.session.messages, ["uns,chat"])
        self.assertEqual(self.ticker.instances[0].events, ["made", ("text", "y")])

    def test_factories_started_and_stopped(self) -> None:
        """
        Starting and stopping the multiplex factory starts and stops every
        channel factory.
        """
        self.factory.doStart()
        self.assertEqual((self.chat.started, self.ticker.started), (1, 1))
        self.factory.doStop()
        self.assertEqual((self.chat.stopped, self.ticker.stopped), (1, 1))

    def test_plain_transport(self) -> None:
        """
        Over a transport without C{send} (any byte transport), messages are
        written as UTF-8 bytes, and bytes received are parsed as a message.
        """
        transport = StringTransport()
        mux = self.factory.buildProtocol(None)
        mux.makeConnection(transport)
        mux.dataReceived(b"sub,my%20room")
        mux.dataReceived("msg,my%20room,\u00e9".encode())
        self.assertEqual(transport.value(), "msg,my%20room,\u00e9".encode())

    def test_bad_channels(self) -> None:
        """
        Channel values must be factories or protocol classes; names must be
        non-empty strings.
        """
        self.assertRaises(TypeError, MultiplexFactory, {"a": object()})
        self.assertRaises(TypeError, MultiplexFactory, {"": Protocol})
        self.assertRaises(TypeError, MultiplexFactory, {b"a": Protocol})


class JsEscapeTests(unittest.SynchronousTestCase):
    def test_escape(self) -> None:
        """
        L{js_escape} matches JavaScript's C{escape()}.
        """
        self.assertEqual(js_escape("chat"), "chat")
        self.assertEqual(js_escape("a b,c%"), "a%20b%2Cc%25")
        self.assertEqual(js_escape("@*_+-./"), "@*_+-./")
        self.assertEqual(js_escape("\u00e9"), "%E9")
        self.assertEqual(js_escape("\u20ac"), "%u20AC")
        self.assertEqual(js_escape("\U0001f600"), "%uD83D%uDE00")


# -- over a real SockJS session --------------------------------------------------

_NODE_MODULES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "e2e", "node_modules")

# The websocket-multiplex client from npm, driven by sockjs-client in Node.
_NODE_SCRIPT = r"""
'use strict';
var fs = require('fs');
var SockJS = require('sockjs-client');
var source = fs.readFileSync(require.resolve('websocket-multiplex/multiplex_client.js'), 'utf8');
var WebSocketMultiplex = new Function(source + '\nreturn WebSocketMultiplex;')();

var url = process.argv[2], transport = process.argv[3];
var events = [];
var sock = new SockJS(url, null, {transports: [transport]});
var mux = new WebSocketMultiplex(sock);
var chat = mux.channel('chat'), upper = mux.channel('my upper'), nope = mux.channel('nope');
var limit = setTimeout(finish, 10000);
var opened = null;
sock.addEventListener('open', function () { opened = sock.transport; });

function finish() {
  clearTimeout(limit);
  process.stdout.write(JSON.stringify({transport: opened, events: events}) + '\n',
                       function () { process.exit(0); });
}
function step() {
  if (events.length === 4) {
    chat.close();
    setTimeout(function () { sock.close(); setTimeout(finish, 300); }, 300);
  }
}
chat.onopen = function () { chat.send('hello, with, commas'); };
chat.onmessage = function (e) { events.push(['chat', e.data]); step(); };
upper.onopen = function () { upper.send('shout'); upper.send('caf\u00e9'); };
upper.onmessage = function (e) { events.push(['my upper', e.data]); step(); };
nope.onclose = function () { events.push(['nope', 'closed']); step(); };
"""


class Shout(Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data.upper())


class LifeCycle(Factory):
    """
    Counts its protocols' connections and disconnections.
    """

    def __init__(self, protocol: type) -> None:
        self.protocol = protocol
        self.made = 0
        self.lost = 0
        self._waiting: List[defer.Deferred] = []

    def all_lost(self) -> defer.Deferred:
        """
        Fires (bounded) once every protocol made so far was lost.
        """
        d: defer.Deferred = defer.Deferred()
        self._waiting.append(d)
        self._check()
        return bounded(d)

    def _check(self) -> None:
        if self.made and self.lost >= self.made:
            waiting, self._waiting = self._waiting, []
            for d in waiting:
                d.callback(None)

    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        made, lost = protocol.connectionMade, protocol.connectionLost

        def connectionMade():
            self.made += 1
            made()

        def connectionLost(reason):
            self.lost += 1
            lost(reason)
            self._check()

        protocol.connectionMade, protocol.connectionLost = connectionMade, connectionLost
        return protocol


class MultiplexOverSockJSTests(unittest.TestCase):
    timeout = 60

    @defer.inlineCallbacks
    def setUp(self):
        self.chat = LifeCycle(wire.Echo)
        self.upper = LifeCycle(Shout)
        # the reactor, its timers remembered: the closed sessions' disconnect
        # timers are cancelled at the end rather than waited out
        self.clock = TrackingClock()
        endpoint = serverFromString(
            self.clock, "sockjs:tcp:0:interface=127.0.0.1:prefix=/multiplex:shutdown_timeout=0"
        )
        self.port = yield endpoint.listen(
            MultiplexFactory({"chat": self.chat, "my upper": self.upper})
        )
        self.number = self.port.getHost().port

    @defer.inlineCallbacks
    def tearDown(self):
        yield self.port.stopListening()
        self.clock.cancel_all()

    @defer.inlineCallbacks
    def test_websocket(self) -> None:
        """
        Over a SockJS websocket: channels open, carry messages both ways,
        an unknown one is refused, and closing the session ends them all.
        """
        client = yield connect_ws(self.number, "/multiplex/0/s/websocket")
        self.assertEqual((yield client.next_message()), "o")
        for message in ["sub,chat", "sub,my%20upper", "sub,nope", "msg,chat,a,b", "msg,my%20upper,x"]:
            client.sendMessage(json.dumps([message]).encode())
        got = []
        while len(got) < 3:
            frame = yield client.next_message()
            self.assertEqual(frame[0], "a")
            got.extend(json.loads(frame[1:]))
        self.assertEqual(got, ["uns,nope", "msg,chat,a,b", "msg,my%20upper,X"])
        self.assertEqual((self.chat.made, self.upper.made), (1, 1))
        client.sendClose()
        yield client.closed
        yield defer.gatherResults([self.chat.all_lost(), self.upper.all_lost()])
        self.assertEqual((self.chat.lost, self.upper.lost), (1, 1))

    @defer.inlineCallbacks
    def run_node(self, transport: str):
        node = shutil.which("node")
        if node is None or not os.path.isdir(os.path.join(_NODE_MODULES, "websocket-multiplex")):
            raise unittest.SkipTest("needs node and tests/e2e/node_modules (npm install there)")
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder, True)
        script = os.path.join(folder, "multiplex_client.js")
        with open(script, "w") as f:
            f.write(_NODE_SCRIPT)
        env = dict(os.environ, NODE_PATH=_NODE_MODULES)
        out, err, code = yield utils.getProcessOutputAndValue(
            node, [script, f"http://127.0.0.1:{self.number}/multiplex", transport], env=env
        )
        self.assertEqual(code, 0, err)
        return json.loads(out.decode().strip().splitlines()[-1])

    @defer.inlineCallbacks
    def check_npm_client(self, transport: str):
        result = yield self.run_node(transport)
        self.assertEqual(result["transport"], transport)
        self.assertEqual(
            sorted(map(tuple, result["events"])),
            [
                ("chat", "hello, with, commas"),
                ("my upper", "CAF\u00e9"),  # bytes.upper() leaves UTF-8 alone
                ("my upper", "SHOUT"),
                ("nope", "closed"),
            ],
        )
        # the client closed chat itself, then the whole session
        yield defer.gatherResults([self.chat.all_lost(), self.upper.all_lost()])
        self.assertEqual((self.chat.made, self.chat.lost), (1, 1))
        self.assertEqual((self.upper.made, self.upper.lost), (1, 1))

    def test_npm_client_websocket(self):
        """
        The npm websocket-multiplex client, over sockjs-client's websocket.
        """
        return self.check_npm_client("websocket")

    def test_npm_client_xhr_streaming(self):
        """
        The same over xhr-streaming.
        """
        return self.check_npm_client("xhr-streaming")

    def test_npm_client_xhr_polling(self):
        """
        The same over xhr-polling.
        """
        return self.check_npm_client("xhr-polling")
