"""
The in-memory server of L{txsockjs.testing}: a twisted.web C{Site} over
Twisted's in-memory connections, every timer on a C{Clock}.
"""

from __future__ import annotations

import uuid
from typing import List, Mapping, Optional, Sequence, Tuple, Union, cast

from autobahn.twisted.websocket import WebSocketClientFactory
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IProtocolFactory
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
# Twisted's in-memory transport pair and pump (shipped with Twisted, and the
# base of treq.testing too): bytes move only when the server flushes.
from twisted.test.iosim import FakeTransport, IOPump
from twisted.web.resource import IResource
from twisted.web.server import Site

from ._testing_client import TestSession, _WebSocketClient
from ._testing_http import HOST, Exchange, request_bytes
from .options import Options
from .resource import SockJSResource
from .session import Session

__all__ = ["SockJSTestServer"]


class _ServerTransport(FakeTransport):
    """
    The server's side of an in-memory connection. A half-close (the server
    closing its writing side and waiting for the client to hang up) ends
    the connection, as a real client that read everything does; iosim's own
    C{loseWriteConnection} does nothing.
    """

    def __init__(
        self, protocol: Protocol, host: IPv4Address, peer: IPv4Address
    ) -> None:
        FakeTransport.__init__(self, protocol, True, host, peer)

    def loseWriteConnection(self) -> None:
        FakeTransport.loseConnection(self)


class SockJSTestServer:
    """
    A twisted.web C{Site} over in-memory connections, with a clock.

    @ivar clock: the clock of the server's timers; the resources served must
        have been made with it (C{SockJSResource(factory, options, clock)}).
    @ivar site: the C{Site}.
    """

    __test__ = False

    def __init__(
        self, root: IResource, clock: Optional[Clock] = None, site: Optional[Site] = None
    ) -> None:
        """
        @param root: the resource tree to serve.
        @param clock: the clock the resources were made with (found on
            C{root} when it is a L{SockJSResource}).
        @param site: serve this C{Site} (whose resource is C{root}) rather
            than a plain one; see L{for_site}.
        """
        if clock is None:
            clock = getattr(root, "clock", None)
            if not isinstance(clock, Clock):
                raise TypeError(
                    "give the clock the resources were made with: "
                    "SockJSResource(factory, options, clock)"
                )
        self.clock: Clock = clock
        if site is None:
            site = Site(root, reactor=clock)
            site.timeOut = None
            site.log = lambda request: None  # type: ignore[method-assign]
        site.noisy = False
        self.site = site
        self._pumps: List[Tuple[IOPump, Protocol, FakeTransport]] = []
        self._sessions: List[TestSession] = []
        self._started = False
        self._port = 40000
        self._reacting = False

    @classmethod
    def serving(
        cls, factory: IProtocolFactory, options: Optional[Options] = None
    ) -> "SockJSTestServer":
        """
        A server with one L{SockJSResource} for C{factory} at its root, on a
        new C{Clock}. The resource is the server's C{resource} attribute.
        """
        clock = Clock()
        resource = SockJSResource(factory, options, clock)
        server = cls(resource, clock)
        server.resource = resource
        return server

    @classmethod
    def for_site(cls, site: Site) -> "SockJSTestServer":
        """
        A server for a C{Site} made elsewhere (a L{txsockjs.SockJSFactory},
        a L{txsockjs.SockJSSite} with its HTTP limits, the site of a
        C{sockjs:} endpoint), made with a C{Clock} as its C{reactor}. The
        site is started now, as a port that starts listening starts it
        (its application factories start); L{stop} stops it.
        """
        clock = getattr(site, "reactor", None)
        if not isinstance(clock, Clock):
            raise TypeError("make the site with a Clock as its reactor")
        server = cls(site.resource, clock, site)
        site.doStart()
        server._started = True
        return server

    resource: Optional[SockJSResource] = None

    def stop(self) -> None:
        """
        Stop the site, as a port that stops listening does (a
        L{txsockjs.SockJSSite} closes its sessions and stops its
        application factories), and let the clients read what it sent.
        """
        if self._started:
            self._started = False
            self.site.doStop()
        self.flush()

    # -- sessions

    def open(
        self,
        transport: str = "xhr_streaming",
        prefix: str = "",
        session_id: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        websocket_options: Optional[Mapping[str, object]] = None,
    ) -> TestSession:
        """
        Open a session from a new client on C{transport} (any receiving
        transport, C{websocket} included) at the endpoint mounted at
        C{prefix} (C{""} for the site's root).

        @param headers: sent with every request of the session.
        @param websocket_options: the Autobahn client's protocol options
            (C{setProtocolOptions}), e.g. compression offers.
        """
        sid = session_id or uuid.uuid4().hex
        path = f"{prefix.rstrip('/')}/000/{sid}"
        return TestSession(self, transport, path, sid, headers, websocket_options)

    # -- HTTP

    def request(
        self,
        method: str,
        path: str,
        headers: Optional[Mapping[str, Union[str, Sequence[str]]]] = None,
        body: bytes = b"",
        version: str = "HTTP/1.1",
        close: bool = True,
    ) -> Exchange:
        """
        Send one request on a new connection and let the server answer as
        far as it does now. With C{close}, C{Connection: close} is sent
        (unless the headers name a C{Connection}).
        """
        exchange = Exchange(self, method.encode("ascii"))
        exchange.send(request_bytes(method, path, headers, body, version, close))
        return exchange

    def connect(self) -> Exchange:
        """
        A new connection with nothing sent on it yet (see L{Exchange.send}).
        """
        return Exchange(self)

    # -- time

    def flush(self) -> None:
        """
        Move every byte both ways and run what is due now, until nothing is
        left to do (bounded: a server that never settles fails loudly).
        """
        for _ in range(10000):
            moved = False
            self.clock.advance(0)
            for pump, _, _ in list(self._pumps):
                if pump.pump(advanceClock=False):
                    moved = True
            self._pumps = [p for p in self._pumps if not (p[0].clientIO.disconnected and p[0].serverIO.disconnected)]
            if not moved and not self._reacting:
                self._reacting = True
                try:
                    for session in list(self._sessions):
                        moved = session._react() or moved
                finally:
                    self._reacting = False
            if not moved and not [c for c in self.clock.getDelayedCalls() if c.getTime() <= self.clock.seconds()]:
                return
        raise AssertionError("the server never settled (10000 rounds)")

    def advance(self, seconds: float) -> None:
        """
        Let C{seconds} pass: every timer due in that span runs at its time,
        in order, with the connections flushed after each.
        """
        target = self.clock.seconds() + seconds
        for _ in range(100000):
            self.flush()
            due = [c.getTime() for c in self.clock.getDelayedCalls() if c.getTime() <= target]
            if not due:
                break
            self.clock.advance(max(0.0, min(due) - self.clock.seconds()))
        else:
            raise AssertionError("timers keep firing; time cannot pass")
        if target > self.clock.seconds():
            self.clock.advance(target - self.clock.seconds())
        self.flush()

    # -- inner workings

    def _connect(self, client: Protocol) -> None:
        self._port += 1
        server_address = IPv4Address("TCP", "127.0.0.1", 8080)
        client_address = IPv4Address("TCP", "127.0.0.1", self._port)
        channel = self.site.buildProtocol(client_address)
        server_transport = _ServerTransport(channel, server_address, client_address)
        client_transport = FakeTransport(client, False, client_address, server_address)
        channel.makeConnection(server_transport)
        client.makeConnection(client_transport)
        pump = IOPump(client, channel, client_transport, server_transport, False, clock=self.clock)
        self._pumps.append((pump, client, server_transport))

    def _websocket(
        self, path: str, headers: Mapping[str, str], options: Optional[Mapping[str, object]]
    ) -> _WebSocketClient:
        factory = WebSocketClientFactory(
            f"ws://{HOST}{path}", reactor=self.clock, headers=dict(headers)
        )
        factory.protocol = _WebSocketClient
        if options:
            factory.setProtocolOptions(**options)
        client = cast(_WebSocketClient, factory.buildProtocol(None))
        self._connect(client)
        self.flush()
        return client

    def _peer_of(self, client: object) -> object:
        for _, c, server_transport in self._pumps:
            if c is client:
                return server_transport.protocol
        return None

    def _follow(self, session: TestSession) -> None:
        self._sessions.append(session)

    def _session_at(self, path: str, session_id: str) -> Optional[Session]:
        for resource in self._resources():
            session = resource.sessions.get(session_id)
            if session is not None and path.startswith(self._prefix_of(resource)):
                return session
        return None

    def _resources(self) -> List[SockJSResource]:
        found: List[SockJSResource] = []
        stack = [self.site.resource]
        while stack:
            node = stack.pop()
            if isinstance(node, SockJSResource):
                found.append(node)
            stack.extend(getattr(node, "children", {}).values())
        return found

    def _prefix_of(self, resource: SockJSResource) -> str:
        def walk(node: object, prefix: str) -> Optional[str]:
            if node is resource:
                return prefix
            for name, child in getattr(node, "children", {}).items():
                found = walk(child, prefix + "/" + name.decode("utf-8"))
                if found is not None:
                    return found
            return None

        return walk(self.site.resource, "") or ""
