"""
What comes in: the client's messages on their way to the protocol, in order,
kept while the protocol paused its session (a part of
L{txsockjs._session.Session}).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence, cast

from twisted.internet.interfaces import IProtocol
from twisted.logger import Logger

from ._sessionparts import BINARY_REFUSED, INVALID_PAYLOAD, Message, SessionState
from .interfaces import IMessageProtocol

__all__ = ["InboundMixin"]

# the namespace users knew before the session was split into parts
_log = Logger(namespace="txsockjs.session")
_OPEN = SessionState.OPEN

if TYPE_CHECKING:
    # mypy checks this part against what the others provide
    from ._sessionparts import SessionParts as _Part
else:
    _Part = object


class InboundMixin(_Part):
    """
    The session's side that hands the client's messages to the protocol,
    and the protocol's control of them (C{IPushProducer}).
    """

    __slots__ = ()

    def pauseProducing(self) -> None:
        """
        Stop handing messages to the protocol; those that come meanwhile are
        kept, in order (up to C{max_queue_size} characters).
        """
        self._paused = True

    def resumeProducing(self) -> None:
        """
        Hand the protocol, in the next reactor turn, what came while paused,
        and the messages that come from then on.
        """
        if self._paused:
            self._paused = False
            if self._inbox:
                self._hub.schedule_read(self)

    def stopProducing(self) -> None:
        """
        What a consumer calls when it goes away: the session closes.
        """
        self.close()

    def deliver(self, messages: Sequence[Message]) -> None:
        """
        Hand messages from the client to the protocol, in order; while the
        protocol paused this session, keep them for later.

        A C{str} is a text message: to C{messageReceived}, or encoded to
        C{dataReceived}. C{bytes} (a raw websocket's binary message) go to
        C{dataReceived} as they are, or to C{binaryReceived} for a protocol
        that takes text with C{messageReceived}; one with no
        C{binaryReceived} cannot take them, and the session closes with
        1003 (RFC 6455: a kind of data it cannot accept).
        """
        protocol = self.protocol
        if self.state is not _OPEN or protocol is None:
            return
        if self._paused or self._inbox:
            self._keep(messages)
            return
        self._delivering = True
        hub = self._hub
        text_protocol = cast(IMessageProtocol, protocol) if self._receives_text else None
        remaining = iter(messages)
        try:
            for message in remaining:
                if type(message) is not str:
                    self._deliver_binary(protocol, cast(bytes, message))
                elif text_protocol is not None:
                    try:
                        text_protocol.messageReceived(message)
                    except Exception:
                        self._fail("its protocol's messageReceived")
                else:
                    try:
                        data = message.encode(hub.encoding, hub.errors)
                    except UnicodeEncodeError:
                        self._bad_input()
                        break
                    try:
                        protocol.dataReceived(data)
                    except Exception:
                        self._fail("its protocol's dataReceived")
                if self._paused or self.state is not _OPEN:
                    if self.state is _OPEN:
                        # paused inside the batch: the rest waits
                        self._keep(list(remaining))
                    break
        finally:
            self._delivering = False
        if self.receiver is not None and (self._outbox or self.state is SessionState.CLOSING):
            self._safe_pump()

    def _deliver_binary(self, protocol: IProtocol, data: bytes) -> None:
        if not self._receives_text:
            try:
                protocol.dataReceived(data)
            except Exception:
                self._fail("its protocol's dataReceived")
            return
        hook = getattr(protocol, "binaryReceived", None)
        if hook is None:
            self.close(*BINARY_REFUSED)
            return
        try:
            hook(data)
        except Exception:
            self._fail("its protocol's binaryReceived")

    def deliver_kept(self) -> None:
        """
        Hand the protocol what was kept while it had paused this session
        (the hub calls this in the turn after it resumed).
        """
        try:
            if self._paused or not self._inbox or self.state is not _OPEN:
                return
            inbox, self._inbox = self._inbox, []
            self._inbox_size = 0
            self.deliver(inbox)
        except Exception:
            self._fail("handing over its kept messages")

    def _keep(self, messages: Sequence[Message]) -> None:
        """
        Buffer incoming messages while the protocol paused this session.
        """
        self._inbox.extend(messages)
        size = self._inbox_size
        for message in messages:
            size += len(message)
        self._inbox_size = size
        if size > self._hub.max_queue_size:
            self._overflow()

    def _bad_input(self) -> None:
        """
        The client sent text that C{Options.encoding} cannot carry to the
        protocol: its error, not the application's.
        """
        _log.info(
            "SockJS session {session_id!r}: the client sent a message that "
            "{encoding} cannot encode; closing with 1007",
            session_id=self.session_id,
            encoding=self._hub.encoding,
        )
        self._hub.counters.bad_input += 1
        self.close(*INVALID_PAYLOAD)
