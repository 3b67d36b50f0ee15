"""
Test your protocol served by txsockjs without sockets and without waiting.

L{SockJSTestServer} runs a real twisted.web C{Site} (real C{Request}s, real
HTTP parsing and chunking) over in-memory connections, with a
C{twisted.internet.task.Clock} for every timer: heartbeats, the disconnect
delay and HTTP timeouts happen when the test advances the clock, never by
waiting. Every call returns once the server has nothing left to do at the
current time, so trial's C{SynchronousTestCase} (or a plain pytest function)
is enough::

    server = SockJSTestServer.serving(Factory.forProtocol(Echo))
    client = server.open("xhr_streaming")
    client.send("hello")
    assert client.messages() == ["hello"]
    server.advance(25)                      # one heartbeat
    assert client.frames[-1].kind == "h"

L{SockJSTestServer.request} and L{SockJSTestServer.connect} give the HTTP
exchange itself (status, headers, chunks, raw bytes) for tests of the wire
format; L{SockJSTestServer.for_site} serves a C{Site} made elsewhere (a
L{txsockjs.SockJSFactory}, a C{sockjs:} endpoint's).
"""

from ._testing_client import TestSession
from ._testing_frames import Frame, frames_of, parse_frame
from ._testing_http import Exchange
from ._testing_server import SockJSTestServer

__all__ = [
    "SockJSTestServer",
    "TestSession",
    "Exchange",
    "Frame",
    "parse_frame",
    "frames_of",
]
