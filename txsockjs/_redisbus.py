# -*- test-case-name: tests.test_redisbus -*-
"""
L{RedisBus}: the message bus over Redis pub/sub, for several processes.

Two connections through one Twisted client endpoint, each kept up by a
C{ClientService} (reconnecting with backoff on an injected clock): one
subscribes (and is subscribed again to every channel after a reconnect), one
publishes. A message published while Redis is unreachable cannot reach the
other processes: it is delivered to this process's subscribers, logged and
counted in L{RedisBus.lost}.

Redis pub/sub ignores database numbers, so the database of
C{redis://HOST:PORT/DB} is folded into the channel names instead: deployments
on different databases of one Redis do not hear each other.
"""

from __future__ import annotations

import random
from typing import Callable, Generator, List, Optional, Set, Type, Union

import txredisapi
from twisted.application import service
from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint, TCP4ClientEndpoint
from twisted.internet.interfaces import IAddress, IProtocol, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ._busapi import Callback, IMessageBus, ISubscription, Subscription, Subscriptions
from ._reactor import default_reactor

__all__ = ["RedisBus", "default_retry_policy"]

_log = Logger()

_ENCODING = "utf-8"
_ERRORS = "surrogatepass"  # SockJS messages may hold lone surrogates


def default_retry_policy() -> Callable[[int], float]:
    """
    0.1 s after the first failure, doubling up to 5 s, plus up to 50 ms of
    jitter so that many processes do not knock on Redis at the same instant.
    """
    return backoffPolicy(
        initialDelay=0.05, factor=2.0, maxDelay=5.0, jitter=lambda: random.uniform(0, 0.05)
    )


# txredisapi ships no type information: its classes are Any to mypy
class _Subscriber(txredisapi.SubscriberProtocol):  # type: ignore[misc]
    bus: "RedisBus"

    def itself(self) -> "_Subscriber":
        # ClientService hands out a proxy: this is the protocol behind it
        return self

    def messageReceived(
        self, pattern: object, channel: object, message: Union[str, bytes, bytearray]
    ) -> None:
        self.bus._received(channel, message)

    def connectionLost(self, why: Failure) -> None:
        txredisapi.SubscriberProtocol.connectionLost(self, why)
        self.bus._connection_lost(self)


class _Publisher(txredisapi.RedisProtocol):  # type: ignore[misc]  # Any, as above
    bus: "RedisBus"

    def itself(self) -> "_Publisher":
        return self

    def connectionLost(self, why: Failure) -> None:
        txredisapi.RedisProtocol.connectionLost(self, why)
        self.bus._connection_lost(self)


class _Factory(Factory[Union[_Subscriber, _Publisher]]):
    """
    Builds txredisapi protocols for a C{ClientService}; also the few
    attributes those protocols read from their factory.
    """

    noisy = False
    isLazy = True

    def __init__(
        self,
        bus: "RedisBus",
        protocol: Type[Union[_Subscriber, _Publisher]],
        password: Optional[str],
        clock: IReactorTime,
    ) -> None:
        self.bus = bus
        self.protocol = protocol
        self.password = password
        self.clock = clock

    def buildProtocol(self, addr: Optional[IAddress]) -> Union[_Subscriber, _Publisher]:
        make = self.protocol
        assert make is not None
        p = make(charset=None, password=self.password, convertNumbers=False)
        p.factory = self
        p.bus = self.bus
        # txredisapi parks the rest of a packet after each bulk reply and
        # resumes on the next turn of the global reactor: use our clock
        p.callLater = self.clock.callLater
        return p

    # read by txredisapi when AUTH or SELECT fails
    def stopTrying(self) -> None:
        pass

    def connectionError(self, why: str) -> None:
        _log.error("Redis bus: {why}", why=why)


@implementer(IMessageBus)
class RedisBus(service.MultiService):
    """
    The bus over Redis pub/sub. It is a service: start it (C{startService},
    or make it the child of a running service) to connect, stop it or
    C{close()} it to disconnect.

    @ivar lost: messages published while Redis was unreachable (they reached
        this process only).
    @ivar connects: how many times the subscriber connection was made ready
        (1 + reconnects).
    @ivar connected: both connections are up and every subscription made
        when the subscriber connected.
    @ivar ready: connected, and no C{SUBSCRIBE} made since is still on its
        way: every subscription is live.
    """

    def __init__(
        self,
        endpoint: IStreamClientEndpoint,
        db: int = 0,
        password: Optional[str] = None,
        clock: Optional[IReactorTime] = None,
        retry_policy: Optional[Callable[[int], float]] = None,
        name: str = "redis",
    ) -> None:
        service.MultiService.__init__(self)
        if clock is None:
            clock = default_reactor()
        self.name = name
        self.db = db
        self.lost = 0
        self.connects = 0
        self._prefix = f"txsockjs:{db}:".encode()
        self._subs = Subscriptions()
        self._subscriber: Optional[_Subscriber] = None
        self._publisher: Optional[_Publisher] = None
        self._ready_waiters: List[Deferred[RedisBus]] = []
        self._live_waiters: List[Deferred[object]] = []
        self._pending = 0  # SUBSCRIBE commands sent, not answered yet
        self._closed = False
        policy = retry_policy or default_retry_policy()
        ClientService(
            endpoint,
            _Factory(self, _Subscriber, password, clock),
            retryPolicy=policy,
            clock=clock,
            prepareConnection=self._prepare_subscriber,
        ).setServiceParent(self)
        ClientService(
            endpoint,
            _Factory(self, _Publisher, password, clock),
            retryPolicy=policy,
            clock=clock,
            prepareConnection=self._prepare_publisher,
        ).setServiceParent(self)

    @classmethod
    def from_address(
        cls,
        host: str,
        port: int = 6379,
        db: int = 0,
        password: Optional[str] = None,
        reactor: Optional[IReactorTime] = None,
    ) -> "RedisBus":
        """
        A bus for Redis at C{host:port}, connecting through a TCP endpoint.

        @param reactor: what it connects (C{IReactorTCP}) and reconnects
            (C{IReactorTime}) with; the global reactor by default.
        """
        if reactor is None:
            reactor = default_reactor()
        if host.replace(".", "").isdigit():
            endpoint: IStreamClientEndpoint = TCP4ClientEndpoint(reactor, host, port, timeout=5)
        else:
            endpoint = HostnameEndpoint(reactor, host, port, timeout=5)
        return cls(endpoint, db=db, password=password, clock=reactor, name=f"redis {host}:{port}/{db}")

    # -- IMessageBus --------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._subscriber is not None and self._publisher is not None

    def when_connected(self) -> Deferred[RedisBus]:
        """
        Fires once both connections are up and subscribed.
        """
        if self.connected:
            return defer.succeed(self)
        d: Deferred[RedisBus] = Deferred()
        self._ready_waiters.append(d)
        return d

    @property
    def ready(self) -> bool:
        return self.connected and self._pending == 0

    def when_ready(self) -> Deferred[object]:
        """
        Fires once L{ready}: connected and every subscription live.
        """
        if self.ready:
            return defer.succeed(self)
        d: Deferred[object] = Deferred()
        self._live_waiters.append(d)
        return d

    def publish(self, channel: str, message: str) -> Deferred[bool]:
        if type(message) is not str:
            raise TypeError("bus messages are str")
        publisher = self._publisher
        if publisher is None or self._subscriber is None:
            return defer.succeed(self._lose(channel, message, "Redis is unreachable"))
        try:
            d: Deferred[object] = publisher.execute_command(
                b"PUBLISH", self._key(channel), message.encode(_ENCODING, _ERRORS)
            )
        except Exception as e:
            return defer.succeed(self._lose(channel, message, str(e)))
        return d.addCallbacks(
            lambda _: True, lambda f: self._lose(channel, message, f.getErrorMessage())
        )

    def subscribe(self, channel: str, callback: Callback) -> Deferred[ISubscription]:
        subscription = Subscription(channel, callback)
        first = self._subs.add(subscription)
        subscriber = self._subscriber
        if not first or subscriber is None:
            # not connected: the connection subscribes it before it is ready
            return defer.succeed(subscription)
        self._pending += 1

        def done(_: object) -> ISubscription:
            self._pending -= 1
            self._check_ready()
            return subscription

        return self._command(subscriber, b"SUBSCRIBE", channel).addCallback(done)

    def unsubscribe(self, subscription: ISubscription) -> Deferred[None]:
        last = self._subs.remove(subscription)
        subscriber = self._subscriber
        if not last or subscriber is None:
            return defer.succeed(None)
        return self._command(subscriber, b"UNSUBSCRIBE", subscription.channel).addCallback(
            lambda _: None
        )

    def close(self) -> Deferred[None]:
        self._closed = True
        self._subs.clear()
        if self.running:
            return defer.maybeDeferred(self.stopService)
        return defer.succeed(None)

    # -- the service --------------------------------------------------------

    def startService(self) -> None:
        self._closed = False
        service.MultiService.startService(self)

    def stopService(self) -> Deferred[None]:
        self._closed = True
        return defer.maybeDeferred(super().stopService)

    # -- inner workings -----------------------------------------------------

    def _key(self, channel: str) -> bytes:
        return self._prefix + channel.encode(_ENCODING, _ERRORS)

    def _command(self, protocol: _Subscriber, command: bytes, channel: str) -> Deferred[object]:
        """
        One command on one channel whose failure (the connection went away:
        it is redone on reconnection) is logged, not raised.
        """
        try:
            d: Deferred[object] = protocol.execute_command(
                command, self._key(channel), apply_timeout=False
            )
        except Exception as e:
            _log.info("Redis bus: {cmd} deferred to the reconnection ({e})", cmd=command, e=e)
            return defer.succeed(None)

        def failed(f: Failure) -> None:
            _log.info("Redis bus: {cmd} failed: {e}", cmd=command, e=f.getErrorMessage())

        return d.addErrback(failed)

    def _lose(self, channel: str, message: str, why: str) -> bool:
        self.lost += 1
        _log.warn(
            "Redis bus: a message on {channel!r} reached this process only "
            "({why}); {lost} lost so far",
            channel=channel,
            why=why,
            lost=self.lost,
        )
        self._subs.deliver(channel, message)
        return False

    def _received(self, channel: object, message: Union[str, bytes, bytearray]) -> None:
        if not isinstance(channel, bytes) or not channel.startswith(self._prefix):
            return
        name = channel[len(self._prefix) :].decode(_ENCODING, _ERRORS)
        if isinstance(message, str):
            text = message
        else:
            text = bytes(message).decode(_ENCODING, _ERRORS)
        self._subs.deliver(name, text)

    # ClientService calls these with a proxy of the protocol it connected,
    # typed IProtocol; itself() is the txredisapi protocol behind it.

    @defer.inlineCallbacks
    def _prepare_subscriber(self, proxy: IProtocol) -> Generator[Deferred[object], object, None]:
        protocol: _Subscriber = proxy.itself()  # type: ignore[attr-defined]
        yield protocol.whenConnected()
        # channels subscribed while this runs are picked up by the next round
        done: Set[str] = set()
        while True:
            missing = [c for c in self._subs.channels() if c not in done]
            if not missing:
                break
            yield protocol.execute_command(
                b"SUBSCRIBE", *[self._key(c) for c in missing], apply_timeout=False
            )
            done.update(missing)
        channels = done
        self._subscriber = protocol
        self.connects += 1
        if self.connects > 1:
            _log.info(
                "Redis bus: reconnected, {n} channels subscribed again", n=len(channels)
            )
        self._check_ready()

    @defer.inlineCallbacks
    def _prepare_publisher(self, proxy: IProtocol) -> Generator[Deferred[object], object, None]:
        protocol: _Publisher = proxy.itself()  # type: ignore[attr-defined]
        yield protocol.whenConnected()
        self._publisher = protocol
        self._check_ready()

    def _check_ready(self) -> None:
        if self.connected:
            connected, self._ready_waiters = self._ready_waiters, []
            for d in connected:
                d.callback(self)
        if self.ready:
            live, self._live_waiters = self._live_waiters, []
            for waiter in live:
                waiter.callback(self)

    def _connection_lost(self, protocol: object) -> None:
        if protocol is self._subscriber:
            self._subscriber = None
        elif protocol is self._publisher:
            self._publisher = None
        else:
            return
        if not self._closed:
            _log.warn("Redis bus: connection to Redis lost; reconnecting")
