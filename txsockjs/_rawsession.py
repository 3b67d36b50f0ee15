"""
The session of a raw websocket: bare messages, text and binary.
"""

from __future__ import annotations

from typing import Union

from ._session import Session
from ._sessionparts import SessionState
from ._sessionframing import RAW

__all__ = ["RawSession"]


class RawSession(Session):
    """
    A session over a raw websocket: messages go out bare, with no open,
    heartbeat or array frames, and closing is a websocket close (its
    framing is L{RAW}).

    Binary messages are kept binary both ways: what arrives in a binary
    frame reaches the protocol as the bytes it carries (see
    L{Session.deliver}), and L{write_binary} sends a binary frame. A plain
    C{write} (or C{send}) sends a text frame.
    """

    framing = RAW

    __slots__ = ()

    def write_binary(self, data: Union[bytes, bytearray, memoryview]) -> None:
        """
        Send C{data} (bytes, or a bytearray or memoryview) as one binary
        websocket message, in order with the text ones. Ignored once
        closing.
        """
        if self.state is SessionState.CLOSING or self.state is SessionState.CLOSED:
            return
        self._queue(bytes(data))

    def send_encoded(self, message: str, frame: bytes) -> None:
        """
        Queue C{message} of a broadcast: its C{a[...]} frame is of no use
        on a raw websocket, where each message is a websocket message of its
        own.
        """
        if self.state is SessionState.OPEN or self.state is SessionState.OPENING:
            self._queue(message)
