"""
The producer an application registers with its session, run only while the
session's client can take more.
"""

from __future__ import annotations

from typing import Callable, Optional, cast

from twisted.internet.interfaces import (
    IDelayedCall,
    IProducer,
    IPullProducer,
    IPushProducer,
    IReactorTime,
)

__all__ = ["ProducerFeed"]


class ProducerFeed:
    """
    One producer registered with a session (its C{registerProducer}).

    A streaming producer is paused while the session is blocked and resumed
    when it is not; a pull producer is asked for more, in a later turn, each
    time what it wrote went out.

    Kept apart from the session because few sessions have a producer: the
    session holds one slot for it, and its writes test only that slot.
    """

    __slots__ = ("producer", "streaming", "_paused", "_pull_call", "_clock", "_blocked", "_fail")

    def __init__(
        self,
        producer: IProducer,
        streaming: bool,
        clock: IReactorTime,
        blocked: Callable[[], Optional[bool]],
        fail: Callable[[str], None],
    ) -> None:
        """
        @param blocked: whether the producer must wait (its session's
            receiver is full, or too much is queued); C{None} while the
            session is closing, when the producer is left as it is.
        @param fail: what to call, inside an C{except} block, when the
            producer raised.
        """
        self.producer = producer
        self.streaming = streaming
        self._paused = False
        self._pull_call: Optional[IDelayedCall] = None
        self._clock = clock
        self._blocked = blocked
        self._fail = fail

    def steer(self) -> None:
        """
        The session's room changed: pause or resume a streaming producer
        to match.
        """
        if not self.streaming:
            return
        pause = self._blocked()
        if pause is None or pause is self._paused:
            return
        self._paused = pause
        producer = cast(IPushProducer, self.producer)
        try:
            if pause:
                producer.pauseProducing()
            else:
                producer.resumeProducing()
        except Exception:
            self._fail("its producer")

    def room(self) -> None:
        """
        What the producer wrote went out (or the receiver drained): a
        streaming producer may go on, a pull producer is asked for more.
        """
        if self.streaming:
            self.steer()
        elif self._pull_call is None:
            self._pull_call = self._clock.callLater(0, self._pull)

    def cancel(self) -> None:
        """
        The producer was unregistered: ask it for nothing more.
        """
        if self._pull_call is not None:
            self._pull_call.cancel()
            self._pull_call = None

    def _pull(self) -> None:
        self._pull_call = None
        if self._blocked() is False:
            try:
                cast(IPullProducer, self.producer).resumeProducing()
            except Exception:
                self._fail("its producer")
