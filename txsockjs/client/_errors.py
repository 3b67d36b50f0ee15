"""
What a SockJS client session ends with, and why a connection attempt failed.

A protocol's C{connectionLost} gets a L{Failure} wrapping a L{SockJSClose}:
a L{SockJSCloseDone} (also a L{ConnectionDone}) for a normal close, a
L{SockJSConnectionLost} (also a L{ConnectionLost}) otherwise, so code written
for TCP keeps telling the two apart.
"""

from __future__ import annotations

from typing import List, Tuple

from twisted.internet.error import ConnectError, ConnectionDone, ConnectionLost

__all__ = [
    "SockJSClose",
    "SockJSCloseDone",
    "SockJSConnectionLost",
    "SockJSConnectError",
    "close_error",
    "is_clean_code",
]


def is_clean_code(code: int) -> bool:
    """
    Whether C{code} ends a session normally: 1000, or an application's
    3000-4999 (C{c[3000,"Go away!"]}).
    """
    return code == 1000 or 3000 <= code <= 4999


class SockJSClose(Exception):
    """
    A SockJS session ended with C{code} and C{reason}: the server's close
    frame, the client's own C{close()}, or the transport's failure (1006).
    """

    def __init__(self, code: int, reason: str) -> None:
        Exception.__init__(self, code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.code} {self.reason}"


class SockJSCloseDone(SockJSClose, ConnectionDone):
    """
    A normal close (1000 or 3000-4999).
    """


class SockJSConnectionLost(SockJSClose, ConnectionLost):
    """
    Any other end: 1002 interrupted, 1006 connection dropped, 2010 another
    connection still open, 1011 protocol error, ...
    """


def close_error(code: int, reason: str) -> SockJSClose:
    """
    The exception a session that ended with C{code} and C{reason} reports.
    """
    if is_clean_code(code):
        return SockJSCloseDone(code, reason)
    return SockJSConnectionLost(code, reason)


class SockJSConnectError(ConnectError):
    """
    No transport could open a session.

    @ivar url: the endpoint's base URL.
    @ivar attempts: C{(transport name or "info", exception)} for each step
        that failed, in order.
    """

    def __init__(self, url: str, attempts: List[Tuple[str, BaseException]]) -> None:
        self.url = url
        self.attempts = attempts
        detail = "; ".join(f"{name}: {error}" for name, error in attempts) or "no transport to try"
        ConnectError.__init__(self, f"{url}: {detail}")
