"""
Sending one message to many sessions, encoding its frame once.
"""

from __future__ import annotations

from typing import Iterable

from ._framing import message_frame
from .session import Session

__all__ = ["broadcast"]


def broadcast(sessions: Iterable[Session], message: str) -> None:
    """
    Send C{message} to every session in C{sessions} that is still open.

    The C{a[...]} frame is encoded once; sessions that have a receiver
    attached and nothing queued get those bytes as they are, the others
    queue the message in order behind what they already have.
    """
    if type(message) is not str:
        raise TypeError("SockJS messages are str")
    frame = message_frame((message,))
    for session in sessions:
        session.send_encoded(message, frame)
