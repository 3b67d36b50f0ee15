# -*- test-case-name: tests.test_bus -*-
"""
The message bus: how a broadcast or a room reaches sessions in every process.

A bus carries text messages on named channels. One process needs nothing more
than L{MemoryBus}; several processes behind a load balancer share a broker
(L{txsockjs._redisbus.RedisBus}, Redis pub/sub). Sessions never cross
processes: each process delivers what the bus brings to its own sessions
(see L{txsockjs.rooms.Rooms}).
"""

from __future__ import annotations

import inspect
from functools import partial
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from twisted.internet import defer
from twisted.logger import Logger
from zope.interface import Attribute, Interface, implementer

__all__ = [
    "IMessageBus",
    "ISubscription",
    "MemoryBus",
    "Subscription",
    "bus_from_url",
    "parse_broker",
    "bind_bus",
]

_log = Logger()

Callback = Callable[[str], Any]


class ISubscription(Interface):
    """
    One callback subscribed to one channel of a bus.
    """

    channel = Attribute("The channel name (C{str}).")
    callback = Attribute("Called with each message (C{str}) published on it.")


class IMessageBus(Interface):
    """
    Publish text messages to named channels, across every process that
    shares the bus.
    """

    lost = Attribute(
        "How many messages published through this bus did not reach the "
        "broker (an outage): they reached this process's subscribers only."
    )

    ready = Attribute(
        "C{True} while every subscription is live at the broker: a message "
        "any process publishes now reaches this process's subscribers."
    )

    def when_ready() -> defer.Deferred:
        """
        Fires once L{ready} (at once if it is): what a health check waits
        for before a balancer sends this process sessions.
        """

    def publish(channel: str, message: str) -> defer.Deferred:
        """
        Send C{message} to every subscriber of C{channel}, in every process.

        @return: fires with C{True} once the broker took it, C{False} when it
            could not (counted in C{lost}, logged; this process's own
            subscribers still get it). It does not fail for an outage.
        """

    def subscribe(channel: str, callback: Callback) -> defer.Deferred:
        """
        Call C{callback(message)} for each message published on C{channel}.

        @return: fires with an L{ISubscription} once messages published from
            now on will arrive (at once while the broker is unreachable: the
            subscription is made as soon as it is back).
        """

    def unsubscribe(subscription: ISubscription) -> defer.Deferred:
        """
        Stop calling C{subscription}'s callback; fires when done.
        """

    def close() -> defer.Deferred:
        """
        Drop every subscription and any connection; fires when done.
        """


@implementer(ISubscription)
class Subscription:
    """
    What L{IMessageBus.subscribe} gives back: unsubscribe with it.
    """

    __slots__ = ("channel", "callback")

    def __init__(self, channel: str, callback: Callback) -> None:
        self.channel = channel
        self.callback = callback

    def __repr__(self) -> str:
        return f"<Subscription {self.channel!r} {self.callback!r}>"


class Subscriptions:
    """
    The callbacks of each channel, shared by the bus implementations: adding,
    removing and calling them, one failing callback never stopping the rest.
    """

    def __init__(self) -> None:
        self.by_channel: Dict[str, List[Subscription]] = {}

    def add(self, subscription: Subscription) -> bool:
        """
        Add it; C{True} if it is the channel's first.
        """
        subs = self.by_channel.setdefault(subscription.channel, [])
        subs.append(subscription)
        return len(subs) == 1

    def remove(self, subscription: Subscription) -> bool:
        """
        Remove it; C{True} if the channel has none left.
        """
        subs = self.by_channel.get(subscription.channel)
        if not subs or subscription not in subs:
            return False
        subs.remove(subscription)
        if subs:
            return False
        del self.by_channel[subscription.channel]
        return True

    def channels(self) -> List[str]:
        return list(self.by_channel)

    def deliver(self, channel: str, message: str) -> int:
        """
        Call every callback of C{channel}; how many there were.
        """
        subs = self.by_channel.get(channel)
        if not subs:
            return 0
        for sub in list(subs):
            try:
                sub.callback(message)
            except Exception:
                _log.failure("Bus subscriber {sub!r} failed", sub=sub)
        return len(subs)

    def clear(self) -> None:
        self.by_channel.clear()


@implementer(IMessageBus)
class MemoryBus:
    """
    A bus inside one process: C{publish} calls the subscribers at once.
    The default, and what tests use.
    """

    lost = 0
    ready = True

    def __init__(self) -> None:
        self._subs = Subscriptions()

    def when_ready(self) -> defer.Deferred:
        return defer.succeed(self)

    def publish(self, channel: str, message: str) -> defer.Deferred:
        if type(message) is not str:
            raise TypeError("bus messages are str")
        self._subs.deliver(channel, message)
        return defer.succeed(True)

    def subscribe(self, channel: str, callback: Callback) -> defer.Deferred:
        subscription = Subscription(channel, callback)
        self._subs.add(subscription)
        return defer.succeed(subscription)

    def unsubscribe(self, subscription: ISubscription) -> defer.Deferred:
        self._subs.remove(subscription)  # type: ignore[arg-type]
        return defer.succeed(None)

    def close(self) -> defer.Deferred:
        self._subs.clear()
        return defer.succeed(None)


def parse_broker(url: Optional[str]) -> Optional[Tuple[str, int, int, Optional[str]]]:
    """
    C{None} for C{memory} (or nothing); C{(host, port, db, password)} for
    C{redis://[:PASSWORD@]HOST[:PORT][/DB]} (port 6379 and DB 0 by default).

    @raise ValueError: with a one-line reason.
    """
    if url is None or url.strip() in ("", "memory", "memory:", "memory://"):
        return None
    parts = urlsplit(url.strip())
    if parts.scheme != "redis":
        raise ValueError(f"--broker {url!r}: expected memory or redis://HOST:PORT/DB")
    try:
        port = parts.port or 6379
    except ValueError:
        raise ValueError(f"--broker {url!r}: the port is not a number") from None
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ValueError(f"--broker {url!r}: the database is a number (redis://HOST:PORT/0)")
    return (parts.hostname or "127.0.0.1", port, int(path or 0), parts.password)


def bus_from_url(url: Optional[str], reactor: Any = None) -> IMessageBus:
    """
    The bus a C{--broker} URL names (see L{parse_broker}): a L{MemoryBus}, or
    a L{txsockjs._redisbus.RedisBus}, a service not started yet.

    @raise ValueError: with a one-line reason.
    """
    address = parse_broker(url)
    if address is None:
        return MemoryBus()
    from ._redisbus import RedisBus

    host, port, db, password = address
    return RedisBus.from_address(host, port, db=db, password=password, reactor=reactor)


def bind_bus(obj: Any, bus: IMessageBus) -> Any:
    """
    C{obj} itself, or, when it is a callable taking a C{bus} argument (a
    handler function C{def factory(bus)}, a factory class whose constructor
    takes C{bus}), C{obj} with C{bus} bound: how a C{twistd sockjs} handler
    gets the process's bus.
    """
    if not callable(obj):
        return obj
    try:
        params = inspect.signature(obj).parameters
    except (TypeError, ValueError):
        return obj
    param = params.get("bus")
    if param is None or param.kind is inspect.Parameter.POSITIONAL_ONLY:
        return obj
    return partial(obj, bus=bus)
