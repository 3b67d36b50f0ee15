"""
A SockJS client for Twisted: connect any protocol factory to a SockJS server
(txsockjs, sockjs-node, Spring, Vert.x, ...) over websocket, xhr-streaming or
xhr-polling, chosen as sockjs-client chooses.

    from txsockjs.client import SockJSClientEndpoint
    endpoint = SockJSClientEndpoint(reactor, "http://127.0.0.1:8081/echo")
    protocol = yield endpoint.connect(factory)
"""

from ._connect import TRANSPORTS
from ._endpoint import SockJSClientEndpoint
from ._errors import SockJSClose, SockJSCloseDone, SockJSConnectError, SockJSConnectionLost
from ._session import ClientSession, ServerInfo, SockJSAddress

__all__ = [
    "SockJSClientEndpoint",
    "ClientSession",
    "ServerInfo",
    "SockJSAddress",
    "SockJSClose",
    "SockJSCloseDone",
    "SockJSConnectionLost",
    "SockJSConnectError",
    "TRANSPORTS",
]
