"""
The public face of txsockjs: each public module promises exactly the names
listed here, and every one of them can be imported from it.

A name leaves a public C{__all__} only on purpose (it is an API promise
broken), and a new public module is added here on purpose; the rest of the
package lives in private C{_x} modules that may change at any time.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Dict, FrozenSet

from twisted.trial.unittest import SynchronousTestCase

import txsockjs

PROMISES: Dict[str, FrozenSet[str]] = {
    "txsockjs": frozenset(
        {
            "SockJSResource",
            "SockJSFactory",
            "SockJSSite",
            "SockJSRequest",
            "Options",
            "Session",
            "SessionState",
            "SessionNotOpen",
            "RequestInfo",
            "broadcast",
            "ISockJSSession",
            "IMessageProtocol",
        }
    ),
    "txsockjs.options": frozenset({"Options", "TRANSPORTS", "DEFAULT_SOCKJS_URL"}),
    "txsockjs.resource": frozenset({"SockJSResource", "SockJSFactory"}),
    "txsockjs.session": frozenset({"Session", "SessionState", "SessionNotOpen", "RequestInfo"}),
    "txsockjs.interfaces": frozenset({"ISockJSSession", "IMessageProtocol"}),
    "txsockjs.broadcast": frozenset({"broadcast"}),
    "txsockjs.multiplex": frozenset({"MultiplexFactory", "MultiplexProtocol", "ChannelTransport"}),
    "txsockjs.endpoints": frozenset(
        {"SockJSServerEndpoint", "SockJSListeningPort", "parseStreamServer"}
    ),
    "txsockjs.testing": frozenset(
        {"SockJSTestServer", "TestSession", "Exchange", "Frame", "parse_frame", "frames_of"}
    ),
    "txsockjs.health": frozenset({"Health", "Drain", "DrainState", "close_sessions"}),
    "txsockjs.bus": frozenset(
        {"IMessageBus", "ISubscription", "MemoryBus", "Subscription", "bus_from_url"}
    ),
    "txsockjs.redisbus": frozenset({"RedisBus"}),
    "txsockjs.rooms": frozenset({"Rooms", "encode_room_message", "decode_room_message"}),
    "txsockjs.metrics": frozenset({"SockJSCollector", "MetricsResource", "METRIC_NAMES"}),
    "txsockjs.tap": frozenset({"Options", "makeService"}),
    "txsockjs.client": frozenset(
        {
            "SockJSClientEndpoint",
            "ClientSession",
            "ServerInfo",
            "SockJSAddress",
            "SockJSClose",
            "SockJSCloseDone",
            "SockJSConnectionLost",
            "SockJSConnectError",
            "TRANSPORTS",
        }
    ),
}

#: public modules that export nothing by name (run with C{python -m})
ENTRY_POINTS = frozenset({"txsockjs.client.__main__"})


def _public_modules() -> FrozenSet[str]:
    found = {"txsockjs"}
    for info in pkgutil.walk_packages(txsockjs.__path__, "txsockjs."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            found.add(info.name)
    return frozenset(found)


class PublicNamesTests(SynchronousTestCase):
    def test_every_public_module_is_known(self) -> None:
        """
        A module without a leading underscore is public: it is listed here.
        """
        self.assertEqual(_public_modules() - ENTRY_POINTS, frozenset(PROMISES))

    def test_all_lists_exactly_the_promises(self) -> None:
        for name, promised in sorted(PROMISES.items()):
            if name == "txsockjs.metrics":
                try:
                    import prometheus_client  # noqa: F401
                except ImportError:  # pragma: no cover - the [metrics] extra
                    continue
            module = importlib.import_module(name)
            self.assertEqual(frozenset(module.__all__), promised, name)
            self.assertEqual(len(module.__all__), len(promised), f"{name}: a name listed twice")

    def test_promised_names_import(self) -> None:
        for name, promised in sorted(PROMISES.items()):
            if name == "txsockjs.metrics":
                try:
                    import prometheus_client  # noqa: F401
                except ImportError:  # pragma: no cover
                    continue
            module = importlib.import_module(name)
            for attribute in sorted(promised):
                self.assertTrue(hasattr(module, attribute), f"{name}.{attribute}")

    def test_top_level_names_are_the_same_objects(self) -> None:
        """
        The package's names are the public modules' objects, not copies.
        """
        from txsockjs import interfaces, options, resource, session

        for module in (interfaces, options, resource, session):
            for attribute in set(module.__all__) & set(txsockjs.__all__):
                self.assertIs(getattr(txsockjs, attribute), getattr(module, attribute), attribute)
