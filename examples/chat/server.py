"""
A chat room over SockJS: every open browser sees every message.

    python3 examples/chat/server.py              then open http://127.0.0.1:8080/
    python3 examples/chat/server.py --port 9000 --host 0.0.0.0

Serves index.html at /, the SockJS endpoint at /chat and sockjs-client at
/sockjs.min.js: the copy npm installed for the tests
(tests/e2e/node_modules/sockjs-client) when there is one, otherwise a redirect
to the CDN. Each page shows which transport it uses; pick another in its
select (or with ?transport=xhr-polling in the URL).

Wire format (JSON text messages):
    client -> server  {"name": "ann", "text": "hello"}
    server -> client  {"type": "message", "name": ..., "text": ..., "transport": ..., "time": ...}
                      {"type": "presence", "count": N, "transports": {"websocket": 2, ...}}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Dict, Optional

try:
    import txsockjs  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from twisted.internet.protocol import Factory, Protocol
from twisted.web.pages import notFound
from twisted.web.resource import Resource
from twisted.web.server import Site
from twisted.web.static import File
from twisted.web.util import Redirect

from txsockjs import Options, SessionNotOpen, SockJSResource, broadcast

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LOCAL_SOCKJS = os.path.join(REPO, "tests", "e2e", "node_modules", "sockjs-client", "dist", "sockjs.min.js")
CDN_SOCKJS = "https://cdn.jsdelivr.net/npm/sockjs-client@1.6.1/dist/sockjs.min.js"

MAX_NAME = 40
MAX_TEXT = 2000


class ChatProtocol(Protocol):
    """
    One person in the room (one SockJS session).
    """

    factory: "ChatFactory"

    def connectionMade(self) -> None:
        self.factory.presence()

    def messageReceived(self, text: str) -> None:
        try:
            data = json.loads(text)
            name = str(data.get("name") or "anonymous")[:MAX_NAME]
            said = str(data["text"])[:MAX_TEXT]
        except (ValueError, KeyError, TypeError, AttributeError):
            return
        if not said.strip():
            return
        self.factory.say(
            {
                "type": "message",
                "name": name,
                "text": said,
                "transport": self.transport.transport_name,
                "time": time.time(),
            }
        )

    def connectionLost(self, reason: Any = None) -> None:
        # Called once the session is no longer open: it is not counted.
        self.factory.presence()


class ChatFactory(Factory):
    protocol = ChatProtocol
    resource: Optional[SockJSResource] = None

    def sessions(self) -> list:
        return self.resource.open_sessions() if self.resource is not None else []

    def say(self, message: Dict[str, Any]) -> None:
        broadcast(self.sessions(), json.dumps(message))

    def presence(self) -> None:
        sessions = self.sessions()
        counts: Dict[str, int] = {}
        for session in sessions:
            counts[session.transport_name] = counts.get(session.transport_name, 0) + 1
        text = json.dumps({"type": "presence", "count": len(sessions), "transports": counts})
        for session in sessions:
            try:
                session.send(text)
            except SessionNotOpen:
                pass



class Folder(Resource):
    """
    Children, and a plain 404 for anything else.
    """

    def getChild(self, path: bytes, request: Any) -> Resource:
        return notFound()


def make_root(
    options: Optional[Options] = None, reactor: Any = None, sockjs_path: str = LOCAL_SOCKJS
) -> Resource:
    """
    /, /index.html, /sockjs.min.js (the file at C{sockjs_path}, or a redirect
    to the CDN when there is none) and the /chat endpoint.
    """
    if options is None:
        # The iframe transports' page loads sockjs-client from this server.
        options = Options(sockjs_url="/sockjs.min.js")
    factory = ChatFactory()
    factory.resource = SockJSResource(factory, options, reactor)
    root = Folder()
    page = File(os.path.join(HERE, "index.html"), defaultType="text/html")
    root.putChild(b"", page)
    root.putChild(b"index.html", page)
    if os.path.exists(sockjs_path):
        root.putChild(b"sockjs.min.js", File(sockjs_path, defaultType="application/javascript"))
    else:
        root.putChild(b"sockjs.min.js", Redirect(CDN_SOCKJS.encode()))
    root.putChild(b"chat", factory.resource)
    return root


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)

    from twisted.internet import reactor

    site = Site(make_root(reactor=reactor))
    site.noisy = False
    port = reactor.listenTCP(args.port, site, interface=args.host)
    address = port.getHost()
    print(f"chat on http://{address.host}:{address.port}/ (sockjs-client: "
          f"{'local copy' if os.path.exists(LOCAL_SOCKJS) else CDN_SOCKJS})", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
