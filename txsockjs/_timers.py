# -*- test-case-name: tests.test_timers -*-
"""
One reactor timer for the successive timeouts of one connection.

twisted.web's channel cancels its idle timeout when a request is complete
and starts a new one when the answer is done: on a keep-alive connection,
a C{callLater} and a C{cancel} per request, and a cancelled call left in
the reactor's heap for every request (the reactor's own timer work was
about 3 % of a C{GET /info}). A L{SharedTimer} given to the channel as its
C{callLater} keeps one reactor call instead: a cancel only forgets what
was to run, and the next C{callLater} moves the same call (C{reset}, which
costs the reactor nothing until the call's old time comes). A call whose
time comes with nothing to run just goes. Timeouts that overlap get reactor
calls of their own, so every one fires when it would have.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from twisted.internet.error import AlreadyCalled, AlreadyCancelled
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from zope.interface import implementer

__all__ = ["SharedTimer"]


@implementer(IDelayedCall)
class _Use:
    """
    One timeout run on a L{SharedTimer}'s reactor call.
    """

    __slots__ = ("_timer", "_run", "cancelled", "called")

    def __init__(self, timer: SharedTimer, run: Callable[[], object]) -> None:
        self._timer = timer
        self._run = run
        self.cancelled = False
        self.called = False

    def _check(self) -> IDelayedCall:
        if self.cancelled:
            raise AlreadyCancelled()
        if self.called:
            raise AlreadyCalled()
        call = self._timer._call
        assert call is not None
        return call

    def getTime(self) -> float:
        return self._check().getTime()

    def cancel(self) -> None:
        self._check()
        self.cancelled = True
        self._timer._current = None

    def delay(self, secondsLater: float) -> None:
        self._check().delay(secondsLater)

    def reset(self, secondsFromNow: float) -> None:
        self._check().reset(secondsFromNow)

    def active(self) -> bool:
        return not (self.cancelled or self.called)


class SharedTimer:
    """
    A C{callLater} for one connection's timeouts that keeps one reactor
    call for all of them (see the module's docstring).
    """

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._call: Optional[IDelayedCall] = None
        self._current: Optional[_Use] = None

    def call_later(
        self, delay: float, callable: Callable[..., object], *args: Any, **kw: Any
    ) -> IDelayedCall:
        if self._current is not None:
            # a second timeout while the first runs: a call of its own
            return self._clock.callLater(delay, callable, *args, **kw)
        use = _Use(self, (lambda: callable(*args, **kw)) if args or kw else callable)
        call = self._call
        if call is not None and call.active():
            call.reset(delay)
        else:
            self._call = self._clock.callLater(delay, self._fire)
        self._current = use
        return use

    def _fire(self) -> None:
        self._call = None
        use, self._current = self._current, None
        if use is not None:
            use.called = True
            use._run()

    def stop(self) -> None:
        """
        Cancel what is to run and the reactor call (the connection is gone).
        """
        use, self._current = self._current, None
        if use is not None:
            use.cancelled = True
        call, self._call = self._call, None
        if call is not None and call.active():
            call.cancel()
