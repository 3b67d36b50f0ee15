"""
SockJS sessions: the state machine every transport shares.

A L{Session} is the transport of one application protocol. It queues what the
protocol writes until a receiver (an HTTP response or a websocket) is
attached, sends heartbeats, closes itself when no receiver comes back within
the disconnect delay, and hands each incoming message to the protocol.

It behaves as a Twisted TCP transport does (C{connectionLost} in a later
turn, C{IPushProducer} for incoming messages, C{abortConnection} dropping
what is queued), bounds what it holds for its client (C{max_queue_size}),
and fails alone: what raises in one session closes that session with 1011.

This module is the public face; the implementation lives in private modules.
"""

from ._request import RequestInfo
from ._session import Session
from ._sessionparts import SessionNotOpen, SessionState

__all__ = ["Session", "SessionState", "SessionNotOpen", "RequestInfo"]
