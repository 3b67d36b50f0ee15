"""
How a session's open, messages and close go out through its receiver: SockJS
frames on every SockJS transport, bare websocket messages on the raw one.

A session gets its framing when it is made and never changes it; the framing
holds no state, so one instance serves every session.
"""

from __future__ import annotations

from typing import List, Union, cast

from zope.interface import Interface, implementer

from ._framing import OPEN, close_frame, message_frame
from ._receiver import IReceiver

__all__ = ["ISessionFraming", "IRawReceiver", "SockJSFraming", "RawFraming", "SOCKJS", "RAW"]

#: one outgoing message: text, or (raw websocket only) a binary message
Outgoing = Union[str, bytes]


class ISessionFraming(Interface):
    """
    What a session's client sees of its life, put on a receiver.
    """

    def open(receiver: IReceiver) -> None:
        """
        The session opened with C{receiver} as its first receiver.
        """

    def messages(receiver: IReceiver, messages: List[Outgoing]) -> int:
        """
        Send C{messages}, in order; the bytes they took.
        """

    def close(receiver: IReceiver, code: int, reason: str) -> None:
        """
        The session closed with C{(code, reason)}: tell the client and end
        C{receiver}.
        """


class IRawReceiver(IReceiver):
    """
    A receiver that carries bare websocket messages (the raw websocket,
    and a raw hixie-76 connection).
    """

    def send_text(message: str) -> int:
        """
        Send C{message} as one text message; the bytes it took.
        """

    def send_binary(data: bytes) -> None:
        """
        Send C{data} as one binary message.
        """

    def close_with(code: int, reason: str) -> None:
        """
        End the connection with the websocket close C{(code, reason)}.
        """


@implementer(ISessionFraming)
class SockJSFraming:
    """
    SockJS frames: C{o}, then C{a[...]} (all the messages of one turn in
    one frame), then C{c[code,"reason"]} and the end of the receiver.
    """

    __slots__ = ()

    def open(self, receiver: IReceiver) -> None:
        receiver.send_frame(OPEN)

    def messages(self, receiver: IReceiver, messages: List[Outgoing]) -> int:
        # a SockJS session queues text only (a RawSession alone queues
        # bytes); no cast: this runs for every frame
        frame = message_frame(messages)  # type: ignore[arg-type]
        receiver.send_frame(frame)
        return len(frame)

    def close(self, receiver: IReceiver, code: int, reason: str) -> None:
        receiver.send_frame(close_frame(code, reason))
        receiver.close()


@implementer(ISessionFraming)
class RawFraming:
    """
    Bare websocket messages: nothing to open, one websocket message per
    message (text or binary, as written), and a websocket close.
    """

    __slots__ = ()

    def open(self, receiver: IReceiver) -> None:
        pass

    def messages(self, receiver: IReceiver, messages: List[Outgoing]) -> int:
        raw = cast(IRawReceiver, receiver)
        sent = 0
        for message in messages:
            if isinstance(message, bytes):
                sent += len(message)
                raw.send_binary(message)
            else:
                sent += raw.send_text(message)
        return sent

    def close(self, receiver: IReceiver, code: int, reason: str) -> None:
        cast(IRawReceiver, receiver).close_with(code, reason)


#: the framing of every SockJS transport
SOCKJS = SockJSFraming()
#: the framing of the raw websocket
RAW = RawFraming()
