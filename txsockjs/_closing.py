"""
How a session ends: closed by the application, aborted, failed, overflowed,
interrupted by its client or expired; the protocol's C{connectionLost}; the
disconnect timer (a part of L{txsockjs._session.Session}).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet.error import ConnectionAborted, ConnectionDone, ConnectionLost
from twisted.logger import Logger
from twisted.python.failure import Failure

from ._sessionparts import ABORTED, INTERNAL_ERROR, INTERRUPTED, QUEUE_OVERFLOW, SessionState
from ._receiver import IReceiver

__all__ = ["ClosingMixin"]

# the namespace users knew before the session was split into parts
_log = Logger(namespace="txsockjs.session")
_CLOSING = SessionState.CLOSING
_CLOSED = SessionState.CLOSED

# _lost once the protocol was told (or never needed telling) it is lost
_TOLD = ConnectionDone("connectionLost was delivered")

if TYPE_CHECKING:
    # mypy checks this part against what the others provide
    from ._sessionparts import SessionParts as _Part
else:
    _Part = object


class ClosingMixin(_Part):
    """
    The session's ways to end, and what follows: the client's close frame
    after what was queued, the protocol's C{connectionLost} in a later
    reactor turn (as a TCP transport does), and the session forgotten once
    no receiver comes back within the disconnect delay.
    """

    __slots__ = ()

    def close(self, code: int = 3000, reason: str = "Go away!") -> None:
        """
        Close the session: the client gets C{c[code,"reason"]} after what was
        already queued, and the protocol gets C{connectionLost} in a later
        reactor turn.
        """
        if self.state is _CLOSING or self.state is _CLOSED:
            return
        self._begin_close(code, reason)
        self._lose_protocol(ConnectionDone("SockJS session closed"))
        self._safe_pump()

    def loseConnection(self) -> None:
        self.close()

    def abortConnection(self) -> None:
        """
        Close at once: what is queued is dropped, and the client gets
        C{c[1002,"Connection aborted"]} with nothing before it.
        """
        if self.state is _CLOSED:
            return
        self._drop_queues()
        if self.state is not _CLOSING:
            self._begin_close(*ABORTED)
            self._lose_protocol(ConnectionAborted("SockJS session aborted"))
        self._safe_pump()

    def receiver_lost(self, receiver: IReceiver, clean: bool = False) -> None:
        """
        The client went away from C{receiver} before it was done: the
        session is interrupted (C{clean}: the client closed a websocket
        properly, which ends its session normally).
        """
        if self.receiver is not receiver:
            return
        self.receiver = None
        self._throttled = False
        if self.state is not _CLOSED:
            self._begin_close(*INTERRUPTED)
            self.state = _CLOSED
            self._drop_queues()
            if clean:
                self._lose_protocol(ConnectionDone("SockJS client closed the session"))
            else:
                self._lose_protocol(ConnectionLost("SockJS receiver interrupted"))
        self._arm_timer()

    def discard(self) -> None:
        """
        Forget this session now, and leave no timer behind (for a server
        that stops, once it closed the session).
        """
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self._forget()

    def tell_lost(self) -> None:
        """
        Give the protocol the C{connectionLost} it is owed, if it is (the
        hub calls this in the turn after the session closed).
        """
        reason, self._lost = self._lost, _TOLD
        if reason is None or reason is _TOLD:
            return
        try:
            feed = self._feed
            if feed is not None:
                self.unregisterProducer()
                try:
                    feed.producer.stopProducing()
                except Exception:
                    self._log_failure("its producer's stopProducing")
            protocol, self.protocol = self.protocol, None
            if protocol is None or getattr(protocol, "transport", None) is not self:
                # never connected: nothing to tell it
                return
            try:
                protocol.connectionLost(Failure(reason))
            except Exception:
                self._log_failure("its protocol's connectionLost")
        except Exception:
            self._log_failure("telling its protocol the connection is lost")

    def _begin_close(self, code: int, reason: str) -> None:
        if self.state is not _CLOSING and self.state is not _CLOSED:
            self._hub.counters.session_closed(code)
        self.state = _CLOSING
        self.disconnecting = True
        self.close_reason = (code, reason)
        self._hub.stop_beating(self)

    def _overflow(self) -> None:
        """
        More than C{max_queue_size} waits for the client: free it and close
        the session with C{c[1013,"Queue overflow"]} at once.
        """
        _log.info(
            "SockJS session {session_id!r}: more than {limit} characters queued "
            "for the client; closing with 1013",
            session_id=self.session_id,
            limit=self._hub.max_queue_size,
        )
        self._hub.counters.queue_full += 1
        self._drop_queues()
        self._begin_close(*QUEUE_OVERFLOW)
        self._lose_protocol(ConnectionLost("SockJS session queue overflow"))
        if self.receiver is not None and not self._flush_scheduled:
            # not now: this runs inside the application's write
            self._flush_scheduled = True
            self._hub.schedule_flush(self)

    def _log_failure(self, what: str) -> None:
        _log.failure(
            "SockJS session {session_id!r}: {what} failed",
            session_id=self.session_id,
            what=what,
        )

    def _fail(self, what: str, broken_receiver: bool = False) -> None:
        """
        Something of this session raised (inside an C{except} block): log it
        once with the session id and close this session alone with
        C{c[1011,"Internal error"]}.

        @param broken_receiver: the receiver itself failed; what is queued
            cannot go out through it, and a second failure detaches it.
        """
        if self._failed:
            # it failed again while closing: let go of its receiver
            receiver, self.receiver = self.receiver, None
            self.state = _CLOSED
            self._drop_queues()
            if receiver is not None:
                try:
                    receiver.close()
                except Exception:
                    pass
            self._arm_timer()
            return
        self._failed = True
        self._hub.counters.application_errors += 1
        self._log_failure(what)
        if broken_receiver:
            self._drop_queues()
        if self.state is SessionState.OPEN or self.state is SessionState.OPENING:
            self._begin_close(*INTERNAL_ERROR)
            self._lose_protocol(ConnectionLost(f"SockJS session failed: {what}"))
        if self.state is not _CLOSED:
            # (a session closing already keeps the code it closes with)
            if self.receiver is not None and not self._flush_scheduled:
                self._flush_scheduled = True
                self._hub.schedule_flush(self)

    def _lose_protocol(self, reason: Exception) -> None:
        """
        Owe the protocol its C{connectionLost}, delivered in the next turn.
        """
        if self._lost is not None:
            return
        self._lost = reason
        self._paused = False
        self._hub.schedule_lost(self)

    # -- the disconnect timer ------------------------------------------------

    def _arm_timer(self) -> None:
        if not self._timed:
            # No disconnect delay (a websocket's session ends with its
            # connection): once closed and without a receiver, it is done.
            if self.state is _CLOSED:
                self._forget()
            return
        timer = self._timer
        delay = self._hub.disconnect_delay
        if timer is not None and timer.active():
            timer.reset(delay)
        else:
            self._timer = self._hub.clock.callLater(delay, self._expire)

    def _expire(self) -> None:
        self._timer = None
        if self.receiver is not None:
            return
        if self.state is not _CLOSED:
            self._hub.counters.expired += 1
            self._begin_close(*INTERRUPTED)
            self.state = _CLOSED
            self._lose_protocol(ConnectionDone("SockJS session timed out"))
        self._forget()

    def _forget(self) -> None:
        self._drop_queues()
        self._hub.stop_beating(self)
        on_forget = self._hub.on_forget
        if on_forget is not None:
            on_forget(self)
