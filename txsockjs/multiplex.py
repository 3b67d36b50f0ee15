# -*- test-case-name: tests.test_multiplex -*-
"""
The SockJS websocket-multiplex protocol: several channels over one session.

The JavaScript C{websocket-multiplex} client sends, over one SockJS
connection, messages of the form C{type,topic[,payload]}:

  - C{sub,topic}: open the channel C{topic};
  - C{msg,topic,payload}: one message on it (the payload may hold commas);
  - C{uns,topic}: close it.

The server answers with C{msg,topic,payload} and C{uns,topic} the same way::

    from txsockjs.multiplex import MultiplexFactory
    SockJSResource(MultiplexFactory({"chat": chat_factory, "ticker": ticker}))

Each subscription gets a protocol built by the factory of its channel, with a
L{ChannelTransport} of its own: C{write(data)} sends C{msg,topic,data} on the
parent session, C{loseConnection()} sends C{uns,topic}. A subscription to a
channel the factory does not know is refused with C{uns,topic}. When the
session ends, every open channel's protocol gets C{connectionLost}.

Topics are compared as they travel: the client sends C{escape(name)} (the
JavaScript C{escape} function), so the channel names given to
L{MultiplexFactory} are escaped the same way (C{"my chat"} is
C{"my%20chat"} on the wire).
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Mapping, Optional, Type, Union

from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import (
    IAddress,
    IConsumer,
    IProducer,
    IProtocol,
    IProtocolFactory,
    IReactorTime,
    ITransport,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ._handlers import simple_factory
from ._reactor import default_reactor

__all__ = ["MultiplexFactory", "MultiplexProtocol", "ChannelTransport"]

_log = Logger()

SUBSCRIBE = "sub"
MESSAGE = "msg"
UNSUBSCRIBE = "uns"

# what JavaScript's escape() leaves alone
_JS_SAFE = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@*_+-./"
)


def js_escape(name: str) -> str:
    """
    C{name} as JavaScript's C{escape()} writes it: the name the
    websocket-multiplex client puts on the wire for a channel.
    """
    out = []
    for char in name:
        if char in _JS_SAFE:
            out.append(char)
            continue
        for unit in _utf16_units(char):
            out.append("%%%02X" % unit if unit < 0x100 else "%%u%04X" % unit)
    return "".join(out)


def _utf16_units(char: str) -> List[int]:
    data = char.encode("utf-16-be", "surrogatepass")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _encode(text: str, encoding: str) -> bytes:
    try:
        return text.encode(encoding, "surrogatepass")
    except UnicodeEncodeError:
        return text.encode(encoding, "replace")


def _as_factory(obj: object, topic: str) -> IProtocolFactory:
    factory = simple_factory(obj)
    if factory is None:
        raise TypeError(
            f"channel {topic!r}: {obj!r} is neither a protocol factory nor a "
            "protocol class"
        )
    return factory


class MultiplexFactory(Factory):
    """
    Builds one L{MultiplexProtocol} per SockJS session; each of its channels
    is served by the factory registered under its name.

    @ivar channels: C{{wire topic: factory}}.
    """

    def __init__(
        self,
        channels: Mapping[str, Union[IProtocolFactory, Type[IProtocol]]],
        reactor: Optional[IReactorTime] = None,
        encoding: str = "utf-8",
    ) -> None:
        """
        @param channels: C{{name: factory}}; a factory may also be a protocol
            class. Names are escaped as the JavaScript client escapes them.
        @param reactor: what defers C{connectionLost} after a channel's
            C{loseConnection} (the global reactor by default).
        @param encoding: the codec between channel payloads (text) and the
            bytes of channel protocols that have no C{messageReceived}.
        """
        self.channels: Dict[str, IProtocolFactory] = {}
        for name, factory in channels.items():
            if not isinstance(name, str) or not name:
                raise TypeError(f"channel names are non-empty str, not {name!r}")
            self.channels[js_escape(name)] = _as_factory(factory, name)
        if reactor is None:
            reactor = default_reactor()
        self.reactor = reactor
        self.encoding = encoding

    def buildProtocol(self, addr: Optional[IAddress]) -> "MultiplexProtocol":
        protocol = MultiplexProtocol(self, addr)
        return protocol

    def startFactory(self) -> None:
        for factory in self.channels.values():
            factory.doStart()

    def stopFactory(self) -> None:
        for factory in self.channels.values():
            try:
                factory.doStop()
            except Exception:
                _log.failure("Channel factory {factory!r} failed to stop", factory=factory)


class MultiplexProtocol(Protocol):
    """
    The protocol of one SockJS session speaking websocket-multiplex: routes
    each message to the channel it names.

    @ivar channels: C{{topic: ChannelTransport}} of the open channels.
    """

    def __init__(self, factory: MultiplexFactory, addr: Optional[IAddress] = None) -> None:
        self.factory = factory
        self.addr = addr
        self.channels: Dict[str, ChannelTransport] = {}

    # -- from the session --------------------------------------------------

    def messageReceived(self, message: str) -> None:
        kind, _, rest = message.partition(",")
        topic, _, payload = rest.partition(",")
        if kind == SUBSCRIBE:
            self._subscribe(topic)
        elif kind == MESSAGE:
            channel = self.channels.get(topic)
            if channel is not None:
                channel._deliver(payload)
        elif kind == UNSUBSCRIBE:
            channel = self.channels.get(topic)
            if channel is not None:
                channel._lost(Failure(ConnectionDone("channel unsubscribed by the client")))
        else:
            _log.debug("Ignoring a multiplex message of type {kind!r}", kind=kind)

    def dataReceived(self, data: bytes) -> None:
        # only when the transport does not know about messageReceived
        self.messageReceived(data.decode("utf-8", "replace"))

    def connectionLost(self, reason: Failure = Failure(ConnectionDone())) -> None:
        channels, self.channels = self.channels, {}
        for channel in channels.values():
            channel._lost(reason)

    # -- for the channels ----------------------------------------------------

    def _subscribe(self, topic: str) -> None:
        if topic in self.channels:
            return
        factory = self.factory.channels.get(topic)
        if factory is None:
            self._send(f"{UNSUBSCRIBE},{topic}")
            return
        try:
            protocol = factory.buildProtocol(self.addr)
        except Exception:
            _log.failure("Channel {topic!r} failed to build a protocol", topic=topic)
            protocol = None
        if protocol is None:
            self._send(f"{UNSUBSCRIBE},{topic}")
            return
        channel = ChannelTransport(self, topic, protocol)
        self.channels[topic] = channel
        try:
            protocol.makeConnection(channel)
        except Exception:
            _log.failure("Channel {topic!r} failed to start", topic=topic)
            channel.loseConnection()

    def _send(self, text: str) -> None:
        transport = self.transport
        if transport is None:
            return
        send = getattr(transport, "send", None)
        if send is not None:
            try:
                send(text)
            except Exception:
                # SessionNotOpen: the session is closing; nothing to tell
                pass
        else:
            transport.write(text.encode("utf-8"))

    def _forget(self, channel: "ChannelTransport") -> None:
        if self.channels.get(channel.topic) is channel:
            del self.channels[channel.topic]


@implementer(ITransport, IConsumer)
class ChannelTransport:
    """
    The transport of one channel's protocol.

    @ivar topic: the channel's name as it travels.
    @ivar multiplexer: the L{MultiplexProtocol} of the session.
    @ivar session: the session's transport (a L{txsockjs.session.Session}).
    """

    def __init__(self, multiplexer: MultiplexProtocol, topic: str, protocol: IProtocol) -> None:
        self.multiplexer = multiplexer
        self.topic = topic
        # None once the channel is lost (and not connected any more)
        self.protocol: Optional[IProtocol] = protocol
        self.connected = True
        self.disconnecting = False
        self.disconnected = False
        self.producer: Optional[IProducer] = None
        # an IMessageProtocol's messageReceived: it gets the text itself
        on_text = getattr(protocol, "messageReceived", None)
        self._on_text: Optional[Callable[[str], object]] = on_text if callable(on_text) else None
        self._encoding = multiplexer.factory.encoding

    def __repr__(self) -> str:
        return f"<ChannelTransport {self.topic!r}>"

    @property
    def session(self) -> Optional[ITransport]:
        return self.multiplexer.transport

    # -- ITransport ----------------------------------------------------------

    def send(self, message: str) -> None:
        """
        Send one text message on this channel.
        """
        if type(message) is not str:
            raise TypeError("multiplex messages are str")
        if self.connected and not self.disconnecting:
            self.multiplexer._send(f"{MESSAGE},{self.topic},{message}")

    def write(self, data: bytes) -> None:
        """
        Send C{data}, decoded as text, as one message on this channel.
        """
        if self.connected and not self.disconnecting:
            self.send(data.decode(self._encoding, "replace"))

    def writeSequence(self, data: Iterable[bytes]) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        """
        Close this channel: the client gets C{uns,topic}; the protocol gets
        C{connectionLost} in the next reactor turn.
        """
        if not self.connected or self.disconnecting:
            return
        self.disconnecting = True
        self.multiplexer._send(f"{UNSUBSCRIBE},{self.topic}")
        self.multiplexer._forget(self)
        self.multiplexer.factory.reactor.callLater(
            0, self._lost, Failure(ConnectionDone("channel closed"))
        )

    abortConnection = loseConnection

    def getPeer(self) -> IAddress:
        session = self.session
        assert session is not None, "the session's protocol is not connected"
        return session.getPeer()

    def getHost(self) -> IAddress:
        session = self.session
        assert session is not None, "the session's protocol is not connected"
        return session.getHost()

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        self.producer = producer

    def unregisterProducer(self) -> None:
        self.producer = None

    # -- from the multiplexer ------------------------------------------------

    def _deliver(self, payload: str) -> None:
        protocol = self.protocol
        if protocol is None or self.disconnecting:  # None: not connected
            return
        try:
            on_text = self._on_text
            if on_text is not None:
                on_text(payload)
            else:
                protocol.dataReceived(_encode(payload, self._encoding))
        except Exception:
            _log.failure(
                "Channel {topic!r}: {protocol!r} failed on a message",
                topic=self.topic,
                protocol=self.protocol,
            )
            self.loseConnection()

    def _lost(self, reason: Failure) -> None:
        if self.disconnected:
            return
        self.multiplexer._forget(self)
        self.connected = False
        self.disconnecting = False
        self.disconnected = True
        producer, self.producer = self.producer, None
        if producer is not None:
            try:
                producer.stopProducing()
            except Exception:
                _log.failure("Channel {topic!r}: producer failed to stop", topic=self.topic)
        protocol, self.protocol = self.protocol, None
        self._on_text = None
        if protocol is None:
            return
        try:
            protocol.connectionLost(reason)
        except Exception:
            _log.failure(
                "Channel {topic!r}: {protocol!r} failed in connectionLost",
                topic=self.topic,
                protocol=protocol,
            )
