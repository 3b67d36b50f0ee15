# -*- test-case-name: tests.test_tap -*-
"""
The service C{twistd sockjs} runs: the site on its ports (the site starts
and stops the application factories) and the message bus, with a graceful
shutdown (drain, then close every session with
C{c[1001,"Server shutting down"]}).
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Tuple, Union

from twisted.application import service
from twisted.application.internet import StreamServerEndpointService
from twisted.internet import defer
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import server
from zope.interface import implementer

from ._reactor import default_reactor
from ._busapi import IMessageBus
from ._shutdown import (
    SHUTDOWN_CODE,
    SHUTDOWN_REASON,
    SessionHolder,
    close_sessions,
    unclosed_sessions,
)
from .bus import MemoryBus
from .health import Drain, Health

__all__ = ["SockJSService"]

_log = Logger()


@implementer(IStreamServerEndpoint)
class _RecordingEndpoint:
    """
    An endpoint that tells its service the port it listens on (so that the
    service can say where it listens: C{tcp:0} in tests) or why it could
    not listen.
    """

    def __init__(self, endpoint: IStreamServerEndpoint, name: str, owner: "SockJSService") -> None:
        self._endpoint = endpoint
        self._name = name
        self._owner = owner

    def listen(self, factory: IProtocolFactory) -> defer.Deferred[IListeningPort]:
        d = self._endpoint.listen(factory)

        def record(port: IListeningPort) -> IListeningPort:
            self._owner.ports.append(port)
            return port

        def failed(reason: Failure) -> None:
            if reason.check(defer.CancelledError):
                return None
            self._owner._listen_failed(self._name, reason)
            return None

        # A failure becomes None (recorded, not logged again): Twisted's
        # StreamServerEndpointService stops no port for it.
        return d.addCallbacks(record, failed)  # type: ignore[arg-type]


class SockJSService(service.MultiService):
    """
    Serves a twisted.web site holding SockJS endpoints on any number of
    endpoints, and closes every session cleanly when stopped: the clients
    get the close frame before the ports stop listening, then the site
    (a L{txsockjs.SockJSSite}) stops the application factories.

    @ivar resources: C{{"/prefix": SockJSResource}}.
    @ivar site: the C{twisted.web.server.Site}.
    @ivar ports: the listening ports, once listening.
    """

    poll_interval = 0.02
    #: after every session is closed, time for the transports to write out
    #: the close frames before the ports stop listening.
    drain_delay = 0.1

    def __init__(
        self,
        site: server.Site,
        resources: Mapping[str, SessionHolder],
        *,
        shutdown_timeout: float = 3.0,
        reactor: Optional[IReactorTime] = None,
        bus: Optional[IMessageBus] = None,
        health: Optional[Health] = None,
        drain_timeout: float = 0.0,
    ) -> None:
        service.MultiService.__init__(self)
        if reactor is None:
            reactor = default_reactor()

        #: the L{txsockjs.bus.IMessageBus} shared with other processes
        self.bus = bus if bus is not None else MemoryBus()
        if service.IService.providedBy(self.bus):
            # first child: stopped last, once the sessions are closed
            service.IService(self.bus).setServiceParent(self)
        #: a L{txsockjs.health.Drain}, when stopping drains first (there is a
        #: health resource, or a drain timeout)
        self.drainer: Optional[Drain] = None
        if health is not None or drain_timeout > 0:
            self.drainer = Drain(
                health if health is not None else Health(),
                resources.values(),
                drain_timeout,
                reactor,
                shutdown_timeout,
            )
        self.site = site
        self.resources = dict(resources)
        self.shutdown_timeout = shutdown_timeout
        self.ports: List[IListeningPort] = []
        self.listen_failures: List[Tuple[str, Failure]] = []
        self._reactor = reactor
        self._starting = False

    def listen(self, endpoint: Union[str, IStreamServerEndpoint]) -> service.IService:
        """
        Also listen on C{endpoint}, an C{IStreamServerEndpoint} or an
        endpoint description string.
        """
        if isinstance(endpoint, str):
            name, where = endpoint, serverFromString(self._reactor, endpoint)
        else:
            name, where = repr(endpoint), endpoint
        child = StreamServerEndpointService(
            _RecordingEndpoint(where, name, self), self.site
        )
        child.setServiceParent(self)
        return child

    def privilegedStartService(self) -> None:
        """
        Listen on every endpoint; one that fails at once ends the program
        with a one-line message (C{SystemExit}, exit status 1).
        """
        self._starting = True
        try:
            service.MultiService.privilegedStartService(self)
        finally:
            self._starting = False
        if self.listen_failures:
            name, reason = self.listen_failures[0]
            raise SystemExit(
                f"twistd sockjs: cannot listen on {name}: {reason.getErrorMessage()}"
            )

    def _listen_failed(self, name: str, reason: Failure) -> None:
        self.listen_failures.append((name, reason))
        if not self._starting:
            # it failed later: serving on fewer ports than asked is an error
            _log.critical(
                "Cannot listen on {name}: {error}; stopping",
                name=name,
                error=reason.getErrorMessage(),
            )
            stop = getattr(self._reactor, "stop", None)
            if stop is not None and getattr(self._reactor, "running", False):
                stop()

    def stopService(self) -> defer.Deferred[object]:
        d: defer.Deferred[Any] = (
            self.drainer.drain() if self.drainer is not None else self.close_sessions()
        )
        # the ports stop listening, and the site stops the factories
        d.addBoth(self._stop_children)
        d.addBoth(self._close_bus)
        return d

    def _stop_children(self, _: object) -> object:
        return service.MultiService.stopService(self)

    def _close_bus(self, result: object) -> object:
        if service.IService.providedBy(self.bus):
            return result  # stopped with the other children
        d = defer.maybeDeferred(self.bus.close)
        d.addErrback(lambda f: _log.failure("Closing the bus failed", f))
        return d.addCallback(lambda _: result)

    def open_sessions(self) -> List[Any]:
        """
        Every session of every endpoint that is not closed yet.
        """
        return unclosed_sessions(self.resources.values())

    def close_sessions(
        self, code: int = SHUTDOWN_CODE, reason: str = SHUTDOWN_REASON
    ) -> defer.Deferred[None]:
        """
        Close every session of every endpoint; see L{close_sessions}.
        """
        return close_sessions(
            self.resources.values(),
            self._reactor,
            self.shutdown_timeout,
            code,
            reason,
            poll_interval=self.poll_interval,
            drain_delay=self.drain_delay,
        )
