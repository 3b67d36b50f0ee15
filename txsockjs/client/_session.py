"""
The client side of one SockJS session: the transport of the application's
protocol, with the same byte mapping and direct API as the server's session.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, Tuple, Union

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IProtocol,
    IPullProducer,
    IPushProducer,
    IReactorTime,
    ITransport,
)
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ..session import SessionNotOpen, SessionState
from ._errors import SockJSClose, SockJSConnectionLost, close_error
from ._frames import FrameError, parse_frame
from ._interfaces import IClientTransport, IFrameSink

__all__ = ["ClientSession", "SockJSAddress", "ServerInfo"]

_log = Logger()


@dataclass(frozen=True)
class ServerInfo:
    """
    What the server's C{/info} said.
    """

    websocket: bool = True
    cookie_needed: bool = False
    origins: Tuple[str, ...] = ("*:*",)
    entropy: int = 0


@implementer(IAddress)
@dataclass(frozen=True)
class SockJSAddress:
    """
    Both ends of a client session, as C{getPeer()} and C{getHost()} give
    them: the endpoint's URL, the session and the transport that carries it
    (one session may use several TCP connections, so no IP address fits).
    """

    url: str
    session_id: str
    transport: str


@implementer(ITransport, IFrameSink)
class ClientSession:
    """
    One SockJS session opened by a client.

    It is the C{transport} of the application's protocol: each message from
    the server is one C{dataReceived} (UTF-8 bytes) or C{messageReceived}
    (C{str}, when the protocol has it); each C{write} is one message;
    C{loseConnection} closes the session. C{connectionLost} gets a
    L{SockJSClose} carrying the code and reason.

    @ivar opened: fires with the session when the server's C{o} frame came,
        or fails if the transport ends before that.
    @ivar closed: fires with the L{SockJSClose} once the session is over.
    """

    def __init__(
        self,
        url: str,
        session_id: str,
        transport: IClientTransport,
        clock: IReactorTime,
        info: ServerInfo = ServerInfo(),
        heartbeat_timeout: Optional[float] = None,
        close_timeout: float = 10.0,
        encoding: str = "utf-8",
        cleanup: Optional[Callable[[], object]] = None,
    ) -> None:
        self.url = url
        self.session_id = session_id
        self.transport_name: str = transport.name
        self.info = info
        self.state = SessionState.OPENING
        self.protocol: Optional[IProtocol] = None
        self.close_reason: Optional[SockJSClose] = None
        self.disconnecting = False
        self.opened: Deferred[ClientSession] = Deferred(lambda d: self._cancel_open())
        self.closed: Deferred[SockJSClose] = Deferred()
        self._transport = transport
        self._clock = clock
        self._heartbeat_timeout = heartbeat_timeout
        self._close_timeout = close_timeout
        self._encoding = encoding
        self._errors = "surrogatepass" if codecs.lookup(encoding).name == "utf-8" else "strict"
        self._cleanup = cleanup
        self._ending: Optional[SockJSClose] = None
        self._watchdog: Optional[IDelayedCall] = None
        self._watchdog_delay = 0.0  # the heartbeat timeout, once it is armed
        self._close_timer: Optional[IDelayedCall] = None
        self._pending: List[str] = []
        # an IMessageProtocol's messageReceived: it gets the text itself
        self._on_text: Optional[Callable[[str], object]] = None
        self._producer: Optional[Union[IPushProducer, IPullProducer]] = None
        self._streaming = True
        self._pull_call: Optional[IDelayedCall] = None
        self._lost = False
        self._failed_open = False

    def __repr__(self) -> str:
        return f"<ClientSession {self.session_id!r} {self.state.value} via {self.transport_name}>"

    def start(self) -> None:
        """
        Start the transport; C{opened} fires when the server says C{o}.
        """
        self._transport.start(self)

    def attach(self, protocol: IProtocol) -> None:
        """
        Make C{protocol} the application on this open session.
        """
        self.protocol = protocol
        on_text = getattr(protocol, "messageReceived", None)
        self._on_text = on_text if callable(on_text) else None
        try:
            protocol.makeConnection(self)
        except Exception:
            _log.failure("Protocol {protocol!r} failed to start", protocol=protocol)
            self.close(1011, "Internal error")
            return
        if self._pending:
            pending, self._pending = self._pending, []
            self._deliver(pending)

    # -- the direct API ------------------------------------------------------

    def send(self, message: str) -> None:
        """
        Send one message.

        @raise txsockjs.SessionNotOpen: the session is not open.
        """
        if self.state is not SessionState.OPEN:
            raise SessionNotOpen(f"session {self.session_id!r} is {self.state.value}")
        if type(message) is not str:
            raise TypeError("SockJS messages are str")
        self._transport.send([message])
        if self._producer is not None and not self._streaming:
            self._schedule_pull()

    def close(self, code: int = 1000, reason: str = "Normal closure") -> None:
        """
        Close the session once what was sent is delivered; the protocol then
        gets C{connectionLost} with C{code} and C{reason}.
        """
        if self.state is SessionState.OPENING:
            self._cancel_open()
            return
        if self.state is not SessionState.OPEN:
            return
        self.state = SessionState.CLOSING
        self.disconnecting = True
        self._ending = close_error(code, reason)
        self._stop_watchdog()
        self._close_timer = self._clock.callLater(self._close_timeout, self._transport.abort)
        self._transport.close(code, reason)

    def abort(self, code: int = 1000, reason: str = "Normal closure") -> None:
        """
        Close at once, dropping what is not sent yet.
        """
        if self.state is SessionState.OPENING:
            self._cancel_open()
            return
        if self._ending is None:
            self._ending = close_error(code, reason)
        if self.state is not SessionState.CLOSED:
            self.state = SessionState.CLOSING
            self.disconnecting = True
            self._transport.abort()

    # -- ITransport ----------------------------------------------------------

    def write(self, data: bytes) -> None:
        """
        Send C{data}, decoded as text, as one message. Ignored unless open.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"Data must be bytes, not {type(data).__name__}")
        if self.state is not SessionState.OPEN:
            return
        data = bytes(data)
        try:
            text = data.decode(self._encoding, self._errors)
        except UnicodeDecodeError:
            text = data.decode(self._encoding, "replace")
        self.send(text)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        self.close()

    def abortConnection(self) -> None:
        self.abort()

    def getPeer(self) -> SockJSAddress:
        return SockJSAddress(self.url, self.session_id, self.transport_name)

    def getHost(self) -> SockJSAddress:
        return SockJSAddress(self.url, self.session_id, self.transport_name)

    def registerProducer(
        self, producer: Union[IPushProducer, IPullProducer], streaming: bool
    ) -> None:
        """
        Accept a producer. What it writes is queued by the transport, so a
        streaming producer is never paused; a pull producer is asked for
        more after each write.
        """
        if self._producer is not None:
            raise RuntimeError("a producer is already registered with this session")
        self._producer = producer
        self._streaming = bool(streaming)
        if not streaming:
            self._schedule_pull()

    def unregisterProducer(self) -> None:
        self._producer = None
        if self._pull_call is not None and self._pull_call.active():
            self._pull_call.cancel()
        self._pull_call = None

    def _schedule_pull(self) -> None:
        if self._pull_call is None:
            self._pull_call = self._clock.callLater(0, self._pull)

    def _pull(self) -> None:
        self._pull_call = None
        if self._producer is not None and self.state is SessionState.OPEN:
            self._producer.resumeProducing()

    # -- IFrameSink ----------------------------------------------------------

    def frame_received(self, frame: str) -> None:
        if self.state is SessionState.CLOSED or self._lost:
            return
        try:
            parsed = parse_frame(frame)
        except FrameError as e:
            _log.warn("Bad frame from {url}: {error}", url=self.url, error=e)
            self._fail(1002, "Broken framing.")
            return
        if parsed is None:
            return
        if self._watchdog is not None:
            self._watchdog.reset(self._watchdog_delay)
        if parsed[0] == "a":
            if self.state is SessionState.OPEN:
                if self.protocol is None:
                    self._pending.extend(parsed[1])
                else:
                    self._deliver(parsed[1])
        elif parsed[0] == "o":
            if self.state is SessionState.OPENING:
                self.state = SessionState.OPEN
                timeout = self._heartbeat_timeout
                if timeout is not None:
                    self._watchdog_delay = timeout
                    self._watchdog = self._clock.callLater(timeout, self._silent)
                self.opened.callback(self)
        elif parsed[0] == "c":
            code, reason = parsed[1]
            if self.state is SessionState.OPENING:
                self._fail_open(close_error(code, reason))
            elif self.state is SessionState.OPEN or self.state is SessionState.CLOSING:
                # the server's word wins over a close of our own in progress
                self._ending = close_error(code, reason)
                if self.state is SessionState.OPEN:
                    self.state = SessionState.CLOSING
                    self.disconnecting = True
                    self._stop_watchdog()
                    self._close_timer = self._clock.callLater(self._close_timeout, self._transport.abort)
                    self._transport.close(code, reason)

    def transport_lost(self, code: int, reason: str) -> None:
        if self._lost:
            return
        self._lost = True
        self._stop_watchdog()
        if self._close_timer is not None and self._close_timer.active():
            self._close_timer.cancel()
        self._close_timer = None
        if self.state is SessionState.OPENING:
            self._fail_open(SockJSConnectionLost(code, reason))
            return
        if self._failed_open:
            return
        ending = self._ending if self._ending is not None else SockJSConnectionLost(code, reason)
        self._finish(ending)

    # -- inner workings ------------------------------------------------------

    def _deliver(self, messages: List[str]) -> None:
        protocol = self.protocol
        if protocol is None:
            return
        on_text = self._on_text
        for message in messages:
            if self.state is not SessionState.OPEN:
                return
            try:
                if on_text is not None:
                    on_text(message)
                else:
                    protocol.dataReceived(message.encode(self._encoding, self._errors))
            except Exception:
                _log.failure("Protocol {protocol!r} failed on a message", protocol=self.protocol)
                self.close(1011, "Internal error")

    def _silent(self) -> None:
        self._watchdog = None
        self._fail(1006, "No heartbeat from the server")

    def _fail(self, code: int, reason: str) -> None:
        if self.state is SessionState.OPENING:
            self._fail_open(SockJSConnectionLost(code, reason))
            return
        self._ending = SockJSConnectionLost(code, reason)
        self.abort(code, reason)

    def _stop_watchdog(self) -> None:
        if self._watchdog is not None and self._watchdog.active():
            self._watchdog.cancel()
        self._watchdog = None

    def _cancel_open(self) -> None:
        self._fail_open(defer.CancelledError())

    def _fail_open(self, error: BaseException) -> None:
        """
        The session did not open: report C{error} once, tear the transport
        down.
        """
        self.state = SessionState.CLOSED
        self._failed_open = True
        if not self._lost:
            self._transport.abort()
        if not self.opened.called:
            self.opened.errback(Failure(error))

    def _finish(self, ending: SockJSClose) -> None:
        self.state = SessionState.CLOSED
        self.disconnecting = True
        self.close_reason = ending
        d = defer.maybeDeferred(self._cleanup) if self._cleanup is not None else defer.succeed(None)
        d.addErrback(lambda f: _log.failure("Cleaning up after {session!r}", f, session=self))
        d.addCallback(lambda _: self._tell_protocol(ending))

    def _tell_protocol(self, ending: SockJSClose) -> None:
        protocol, self.protocol = self.protocol, None
        self._on_text = None
        producer, self._producer = self._producer, None
        if self._pull_call is not None and self._pull_call.active():
            self._pull_call.cancel()
        if producer is not None:
            try:
                producer.stopProducing()
            except Exception:
                _log.failure("Producer failed to stop")
        if protocol is not None:
            try:
                protocol.connectionLost(Failure(ending))
            except Exception:
                _log.failure("Protocol {protocol!r} failed in connectionLost", protocol=protocol)
        self.closed.callback(ending)
