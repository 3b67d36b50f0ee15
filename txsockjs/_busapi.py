# -*- test-case-name: tests.test_bus -*-
"""
The bus interfaces and the subscription book-keeping every bus shares;
L{txsockjs.bus} re-exports them. Apart so that the Redis bus, which
L{txsockjs.bus} loads for a C{redis://} broker, does not import that module
back.
"""

from __future__ import annotations

from typing import Callable, Dict, List

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from zope.interface import Attribute, Interface, implementer

__all__ = ["Callback", "IMessageBus", "ISubscription", "Subscription", "Subscriptions"]

_log = Logger()

Callback = Callable[[str], object]


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

    def when_ready() -> Deferred[object]:
        """
        Fires once L{ready} (at once if it is): what a health check waits
        for before a balancer sends this process sessions.
        """

    def publish(channel: str, message: str) -> Deferred[bool]:
        """
        Send C{message} to every subscriber of C{channel}, in every process.

        @return: fires with C{True} once the broker took it, C{False} when it
            could not (counted in C{lost}, logged; this process's own
            subscribers still get it). It does not fail for an outage.
        """

    def subscribe(channel: str, callback: Callback) -> Deferred[ISubscription]:
        """
        Call C{callback(message)} for each message published on C{channel}.

        @return: fires with an L{ISubscription} once messages published from
            now on will arrive (at once while the broker is unreachable: the
            subscription is made as soon as it is back).
        """

    def unsubscribe(subscription: ISubscription) -> Deferred[None]:
        """
        Stop calling C{subscription}'s callback; fires when done.
        """

    def close() -> Deferred[None]:
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
        self.by_channel: Dict[str, List[ISubscription]] = {}

    def add(self, subscription: ISubscription) -> bool:
        """
        Add it; C{True} if it is the channel's first.
        """
        subs = self.by_channel.setdefault(subscription.channel, [])
        subs.append(subscription)
        return len(subs) == 1

    def remove(self, subscription: ISubscription) -> bool:
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

