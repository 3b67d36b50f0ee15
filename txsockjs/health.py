# -*- test-case-name: tests.test_health -*-
"""
Draining one process out of a load balancer without losing a message.

L{Health} is the URL the balancer checks: 503 while starting (the message
bus's subscriptions are not live yet: a session sent here could miss
broadcasts), 200 while serving, 404 once draining (HAProxy's
C{http-check disable-on-404}, nginx's passive checks).
L{Drain} is the state machine a stopping process goes through::

    SERVING --drain()--> DRAINING --timeout--> CLOSING --> DONE
                          health 404           every session gets c[1001,...]
                          new sessions served  (its queued messages first)

The C{timeout} is the time the balancer needs to notice the 404 (its check
interval times the failures it waits for, plus margin): until then new
sessions may still arrive, and are served.

L{close_sessions} is the CLOSING step alone, for a program of your own::

    reactor.addSystemEventTrigger(
        "before", "shutdown", close_sessions, [resource], reactor, 3.0)
"""

from __future__ import annotations

import enum
from typing import Dict, Iterable, List, Optional

from twisted.application import service
from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource

from ._busapi import IMessageBus
from ._reactor import default_reactor
from ._shutdown import (
    DEFAULT_SHUTDOWN_TIMEOUT,
    SHUTDOWN_CODE,
    SHUTDOWN_REASON,
    SessionHolder,
    close_sessions,
)
from .resource import SockJSResource

__all__ = ["Health", "Drain", "DrainState", "close_sessions"]

_log = Logger()


class DrainState(enum.Enum):
    SERVING = "serving"
    DRAINING = "draining"
    CLOSING = "closing"
    DONE = "done"


class Health(Resource):
    """
    C{GET} (or C{HEAD}) answers C{503 starting} until C{bus} is ready for
    the first time (L{txsockjs.bus.IMessageBus.ready}: every subscription
    live), C{200 serving} while the process takes new sessions and
    C{404 draining} once it is leaving; then a C{bus up}/C{bus down} line
    and one line per transport with the number of sessions of C{resources}
    on it (for people and tests: balancers read the status only).

    A bus that goes down B{after} start (a Redis outage) does not turn the
    check 503: every process shares the broker, so taking them all out would
    refuse every client while local sessions still work; the outage is
    logged and counted by the bus (C{lost}) and shown as C{bus down}.
    """

    isLeaf = True

    def __init__(
        self, resources: Iterable[SockJSResource] = (), bus: Optional[IMessageBus] = None
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.draining = False
        self.resources: List[SockJSResource] = list(resources)
        self.bus = bus
        self._started = False

    @property
    def started(self) -> bool:
        """
        The bus has been ready once (always, without a bus).
        """
        if not self._started:
            self._started = self.bus is None or bool(getattr(self.bus, "ready", True))
        return self._started

    def render_GET(self, request: IRequest) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=UTF-8")
        request.setHeader(b"cache-control", b"no-store")
        if self.draining:
            lines = ["draining"]
            request.setResponseCode(404)
        elif not self.started:
            lines = ["starting"]
            request.setResponseCode(503)
        else:
            lines = ["serving"]
        if self.bus is not None:
            lines.append("bus up" if getattr(self.bus, "ready", True) else "bus down")
        counts: Dict[str, int] = {}
        for resource in self.resources:
            for session in resource.open_sessions():
                counts[session.transport_name] = counts.get(session.transport_name, 0) + 1
        lines.append(f"sessions {sum(counts.values())}")
        lines.extend(f"transport {name} {n}" for name, n in sorted(counts.items()))
        return ("\n".join(lines) + "\n").encode()

    render_HEAD = render_GET


class Drain(service.Service):
    """
    Drains C{resources} (L{txsockjs.SockJSResource}s) when C{drain()} is
    called or the service stops: C{health} turns 404 at once, new sessions
    are served for C{timeout} seconds more, then every session is closed with
    C{c[1001,"Server shutting down"]} (after what it had queued), waiting at
    most C{close_timeout} seconds for the clients to get it.

    Use it as a child of your application (stopping it drains), or call
    C{drain()} yourself, e.g. from
    C{reactor.addSystemEventTrigger("before", "shutdown", drain.drain)}.
    """

    def __init__(
        self,
        health: Health,
        resources: Iterable[SessionHolder],
        timeout: float = 0.0,
        clock: Optional[IReactorTime] = None,
        close_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    ) -> None:
        if clock is None:
            clock = default_reactor()
        if timeout < 0:
            raise ValueError("timeout: seconds, 0 or more")
        self.health = health
        self.resources: List[SessionHolder] = list(resources)
        self.timeout = timeout
        self.close_timeout = close_timeout
        self.state = DrainState.SERVING
        self._clock = clock
        self._done: Optional[defer.Deferred[None]] = None
        self._timer: Optional[IDelayedCall] = None

    def drain(self) -> defer.Deferred[None]:
        """
        Start draining (again: no effect); fires when every session is
        closed. It never fails.
        """
        if self._done is None:
            self._done = defer.Deferred()
            self.health.draining = True
            self.state = DrainState.DRAINING
            _log.info(
                "Draining: health check answers 404; closing the sessions in {t} s",
                t=self.timeout,
            )
            self._timer = self._clock.callLater(self.timeout, self._close)
        result: defer.Deferred[None] = defer.Deferred()

        def tell(outcome: object) -> object:
            result.callback(None)
            return outcome

        self._done.addBoth(tell)
        return result

    def close_now(self) -> defer.Deferred[None]:
        """
        Skip the rest of the wait: close the sessions at once.
        """
        d = self.drain()
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
            self._close()
        return d

    def _close(self) -> None:
        self._timer = None
        self.state = DrainState.CLOSING
        d = close_sessions(
            self.resources, self._clock, self.close_timeout, SHUTDOWN_CODE, SHUTDOWN_REASON
        )

        def done(_: object) -> None:
            self.state = DrainState.DONE
            assert self._done is not None
            self._done.callback(None)

        d.addBoth(done)

    def stopService(self) -> defer.Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        return self.drain()
