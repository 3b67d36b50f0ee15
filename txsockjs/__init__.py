"""
txsockjs: a SockJS server for Twisted.

Mount L{SockJSResource} in any twisted.web tree to serve a Twisted protocol
factory to browsers over every SockJS transport.
"""

from ._request import RequestInfo
from ._session import Session
from ._sessionparts import SessionNotOpen, SessionState
from ._site import SockJSRequest, SockJSSite
from .broadcast import broadcast
from .interfaces import IMessageProtocol, ISockJSSession
from .options import Options
from .resource import SockJSFactory, SockJSResource

__all__ = [
    "SockJSResource",
    "SockJSFactory",
    "SockJSSite",
    "SockJSRequest",
    "Options",
    "Session",
    "SessionState",
    "SessionNotOpen",
    "RequestInfo",
    "broadcast",
    "ISockJSSession",
    "IMessageProtocol",
]

__version__ = "2.0.0.dev0"
