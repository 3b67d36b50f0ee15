"""
A chat room over SockJS: every open browser sees every message.

    bash scripts/demo.sh                         sets up .venv, then runs this
    python3 examples/chat/server.py              then open http://127.0.0.1:8080/
    python3 examples/chat/server.py --port 9000 --host 0.0.0.0

Serves index.html at /, the SockJS endpoint at /chat and sockjs-client at
/sockjs.min.js: the copy npm installed (tests/e2e/node_modules/sockjs-client,
which scripts/demo.sh installs when npm is there) when there is one, otherwise
a redirect to the CDN; the page says so when it cannot load it. Each page
shows which transport it uses; pick another in its select (or with
?transport=xhr-polling in the URL).

Ctrl-C or SIGTERM closes every session with c[1001,"Server shutting down"]
(waiting up to 3 s for polling clients to collect it), as twistd sockjs does.

Wire format (JSON text messages):
    client -> server  {"name": "ann", "text": "hello"}
                      {"type": "ping"}    answered {"type": "pong"}: the page
                                          knows the server is still there
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

PONG = json.dumps({"type": "pong"})
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
            if data.get("type") == "ping":
                self.transport.send(PONG)
                return
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
    parser.add_argument("--port", type=int, default=8080, help="[default: 8080; 0 for any free port]")
    parser.add_argument("--host", default="127.0.0.1", help="interface [default: 127.0.0.1]")
    parser.add_argument(
        "--sockjs-js",
        default=LOCAL_SOCKJS,
        metavar="FILE",
        help="the sockjs.min.js to serve; when it does not exist the page is sent to the CDN "
        "[default: tests/e2e/node_modules/sockjs-client/dist/sockjs.min.js]",
    )
    args = parser.parse_args(argv)

    from twisted.internet import reactor
    from twisted.internet.error import CannotListenError

    from txsockjs.health import close_sessions

    root = make_root(reactor=reactor, sockjs_path=args.sockjs_js)
    site = Site(root)
    site.noisy = False
    try:
        port = reactor.listenTCP(args.port, site, interface=args.host)
    except CannotListenError as e:
        sys.exit(
            f"chat: cannot listen on {args.host}:{args.port} ({e.socketError}); "
            "is another server there? Pick another port with --port"
        )
    # Before the reactor stops (Ctrl-C, SIGTERM): close every session with
    # c[1001,"Server shutting down"] while the port still listens.
    reactor.addSystemEventTrigger(
        "before", "shutdown", close_sessions, [root.children[b"chat"]], reactor, 3.0
    )
    address = port.getHost()
    local = os.path.exists(args.sockjs_js)
    shown = "127.0.0.1" if address.host == "0.0.0.0" else address.host
    sockjs_client = (
        "the local npm copy" if local else f"{CDN_SOCKJS} (no local copy: install npm, then run scripts/demo.sh)"
    )

    def ready() -> None:
        # once running: Ctrl-C and SIGTERM are handled from here on
        print(f"chat on http://{shown}:{address.port}/ : open it in two browser tabs; Ctrl-C stops", flush=True)
        print(f"sockjs-client: {sockjs_client}", flush=True)

    reactor.callWhenRunning(ready)
    reactor.run()


if __name__ == "__main__":
    main()
