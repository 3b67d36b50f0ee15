"""
The SockJS client against sockjs-node 0.3.24, the reference server
(tests/peers/sockjs-node, installed by scripts/install-test-deps.sh), over
every client transport. Marked e2e: they need node.
"""

from __future__ import annotations

import os

import pytest
from twisted.trial import unittest

from ._client_support import LiveClientTests, node_peer_missing, stop_shared_servers

pytestmark = pytest.mark.e2e


def tearDownModule() -> None:
    stop_shared_servers()


class NodePeerTests(LiveClientTests):
    server = "sockjs-node"

    def setUp(self) -> None:
        why = node_peer_missing()
        if why is not None:
            if os.environ.get("CI"):
                self.fail(why)  # type: ignore[attr-defined]
            raise unittest.SkipTest(why)


class WebsocketTests(NodePeerTests, unittest.TestCase):
    transport = "websocket"


class XHRStreamingTests(NodePeerTests, unittest.TestCase):
    transport = "xhr-streaming"


class XHRPollingTests(NodePeerTests, unittest.TestCase):
    transport = "xhr-polling"
