# -*- test-case-name: tests.test_health -*-
"""
Draining one process out of a load balancer without losing a message.

L{Health} is the URL the balancer checks: 200 while serving, 404 once
draining (HAProxy's C{http-check disable-on-404}, nginx's passive checks).
L{Drain} is the state machine a stopping process goes through::

    SERVING --drain()--> DRAINING --timeout--> CLOSING --> DONE
                          health 404           every session gets c[1001,...]
                          new sessions served  (its queued messages first)

The C{timeout} is the time the balancer needs to notice the 404 (its check
interval times the failures it waits for, plus margin): until then new
sessions may still arrive, and are served.
"""

from __future__ import annotations

import enum
from typing import Any, Iterable, List, Optional

from twisted.application import service
from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.web.resource import Resource

__all__ = ["Health", "Drain", "DrainState"]

_log = Logger()


class DrainState(enum.Enum):
    SERVING = "serving"
    DRAINING = "draining"
    CLOSING = "closing"
    DONE = "done"


class Health(Resource):
    """
    C{GET} (or C{HEAD}) answers C{200 serving} while the process takes new
    sessions and C{404 draining} once it is leaving; then one line per
    transport with the number of sessions of C{resources} on it (for people
    and tests: balancers read the status only).
    """

    isLeaf = True

    def __init__(self, resources: Iterable[Any] = ()) -> None:
        super().__init__()
        self.draining = False
        self.resources: List[Any] = list(resources)

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=UTF-8")
        request.setHeader(b"cache-control", b"no-store")
        lines = ["draining" if self.draining else "serving"]
        if self.draining:
            request.setResponseCode(404)
        counts: dict = {}
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
        resources: Iterable[Any],
        timeout: float = 0.0,
        clock: Optional[IReactorTime] = None,
        close_timeout: float = 3.0,
    ) -> None:
        if clock is None:
            from twisted.internet import reactor as clock  # type: ignore[no-redef]
        if timeout < 0:
            raise ValueError("timeout: seconds, 0 or more")
        self.health = health
        self.resources: List[Any] = list(resources)
        self.timeout = timeout
        self.close_timeout = close_timeout
        self.state = DrainState.SERVING
        self._clock = clock
        self._done: Optional[defer.Deferred] = None
        self._timer: Any = None

    def drain(self) -> defer.Deferred:
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
        result: defer.Deferred = defer.Deferred()
        self._done.addBoth(lambda r: (result.callback(None), r)[1])
        return result

    def close_now(self) -> defer.Deferred:
        """
        Skip the rest of the wait: close the sessions at once.
        """
        d = self.drain()
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
            self._close()
        return d

    def _close(self) -> None:
        from .tap import SHUTDOWN_CODE, SHUTDOWN_REASON, close_sessions

        self._timer = None
        self.state = DrainState.CLOSING
        d = close_sessions(
            self.resources, self._clock, self.close_timeout, SHUTDOWN_CODE, SHUTDOWN_REASON
        )

        def done(_: Any) -> None:
            self.state = DrainState.DONE
            assert self._done is not None
            self._done.callback(None)

        d.addBoth(done)

    def stopService(self) -> defer.Deferred:
        super().stopService()
        return self.drain()
