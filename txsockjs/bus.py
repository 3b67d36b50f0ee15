# -*- test-case-name: tests.test_bus -*-
"""
The message bus: how a broadcast or a room reaches sessions in every process.

A bus carries text messages on named channels. One process needs nothing more
than L{MemoryBus}; several processes behind a load balancer share a broker
(L{txsockjs.redisbus.RedisBus}, Redis pub/sub). Sessions never cross
processes: each process delivers what the bus brings to its own sessions
(see L{txsockjs.rooms.Rooms}).
"""

from __future__ import annotations

import inspect
from functools import partial
from typing import Optional, Tuple
from urllib.parse import urlsplit

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from zope.interface import implementer

from ._busapi import (
    Callback,
    IMessageBus,
    ISubscription,
    Subscription,
    Subscriptions,
)

__all__ = ["IMessageBus", "ISubscription", "MemoryBus", "Subscription", "bus_from_url"]


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

    def when_ready(self) -> Deferred[object]:
        return defer.succeed(self)

    def publish(self, channel: str, message: str) -> Deferred[bool]:
        if type(message) is not str:
            raise TypeError("bus messages are str")
        self._subs.deliver(channel, message)
        return defer.succeed(True)

    def subscribe(self, channel: str, callback: Callback) -> Deferred[ISubscription]:
        subscription = Subscription(channel, callback)
        self._subs.add(subscription)
        return defer.succeed(subscription)

    def unsubscribe(self, subscription: ISubscription) -> Deferred[None]:
        self._subs.remove(subscription)
        return defer.succeed(None)

    def close(self) -> Deferred[None]:
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


def bus_from_url(url: Optional[str], reactor: Optional[IReactorTime] = None) -> IMessageBus:
    """
    The bus a C{--broker} URL names (see L{parse_broker}): a L{MemoryBus}, or
    a L{txsockjs.redisbus.RedisBus}, a service not started yet.

    @param reactor: what a Redis bus connects (C{IReactorTCP}) and
        reconnects (C{IReactorTime}) with; the global reactor by default.

    @raise ValueError: with a one-line reason.
    """
    address = parse_broker(url)
    if address is None:
        return MemoryBus()
    from ._redisbus import RedisBus

    host, port, db, password = address
    return RedisBus.from_address(host, port, db=db, password=password, reactor=reactor)


def bind_bus(obj: object, bus: IMessageBus) -> object:
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
