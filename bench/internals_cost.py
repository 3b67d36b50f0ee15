"""
What each Autobahn internal of the websocket fast path (txsockjs/_internals.py)
saves: server CPU per echoed SockJS websocket message, in process, with each
internal switched off in turn.

    python bench/internals_cost.py [--messages N] [--rounds R]

A real SockJSWebSocketProtocol on an in-memory transport echoes masked
32-byte client frames through a real session; a Clock runs the session's
flush turns. Variants run interleaved, one after another in every round, and
the table gives the median CPU per message and its ratio to all internals on:

  all       every internal in use (what txsockjs ships)
  masker    Autobahn's own per-frame masker (applyMask=True) instead of ours
  msgend    Autobahn's own onMessageEnd (a "message" event per message)
  write     sendMessage instead of writing the text frame directly
  none      all three of them off
"""

from __future__ import annotations

import argparse
import os
import statistics
import struct
import sys
import time
from typing import Any, Callable, Dict, List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol  # noqa: E402
from twisted.internet.address import IPv4Address  # noqa: E402
from twisted.internet.protocol import Factory, Protocol  # noqa: E402
from twisted.internet.task import Clock  # noqa: E402
from twisted.internet.testing import StringTransport  # noqa: E402
from twisted.web.http_headers import Headers  # noqa: E402

from txsockjs import Options, SockJSResource  # noqa: E402
from txsockjs.session import RequestInfo  # noqa: E402
from txsockjs._transports.websocket import SockJSWebSocketProtocol  # noqa: E402

KEY = b"\x11\x22\x33\x44"
PAYLOAD = b'["hello, a small 32-byte message"]'
HANDSHAKE = (
    b"GET /echo/0/s/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)


def masked(payload: bytes) -> bytes:
    body = bytes(b ^ KEY[i % 4] for i, b in enumerate(payload))
    return struct.pack("!BB", 0x81, 0x80 | len(payload)) + KEY + body


class Echo(Protocol):
    def messageReceived(self, message: str) -> None:
        self.transport.send(message)  # type: ignore[union-attr]


class AutobahnMessageEnd(SockJSWebSocketProtocol):
    onMessageEnd = WebSocketServerProtocol.onMessageEnd


class SendMessage(SockJSWebSocketProtocol):
    def send_frame(self, frame: bytes) -> None:
        if self.state == WebSocketServerProtocol.STATE_OPEN:
            self.sendMessage(frame, False)


class Neither(SockJSWebSocketProtocol):
    onMessageEnd = WebSocketServerProtocol.onMessageEnd
    send_frame = SendMessage.send_frame


VARIANTS: Dict[str, Any] = {
    "all": (SockJSWebSocketProtocol, False),
    "masker": (SockJSWebSocketProtocol, True),
    "msgend": (AutobahnMessageEnd, False),
    "write": (SendMessage, False),
    "none": (Neither, True),
}


def measure(name: str, messages: int) -> float:
    protocol_class, autobahn_masker = VARIANTS[name]
    clock = Clock()
    resource = SockJSResource(Factory.forProtocol(Echo), Options(), clock)
    address = IPv4Address("TCP", "127.0.0.1", 1)
    info = RequestInfo(b"GET", b"/", b"/", Headers(), address, address, {}, False)
    protocol = protocol_class(resource._websocket, "s", info)
    if autobahn_masker:
        factory = WebSocketServerFactory()
        factory.setProtocolOptions(utf8validateIncoming=False)
        protocol.factory = factory
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(HANDSHAKE)
    frame = masked(PAYLOAD)
    received: Callable[[bytes], None] = protocol.dataReceived
    batch = 100
    for _ in range(2000 // batch):  # warm up
        for _ in range(batch):
            received(frame)
        clock.advance(0)
    echoed = transport.value()
    assert echoed.count(b'a["hello, a small') == 2000, (name, echoed[-200:])
    transport.clear()
    start = time.process_time()
    for _ in range(messages // batch):
        for _ in range(batch):
            received(frame)
        clock.advance(0)
        transport.clear()
    cpu = time.process_time() - start
    protocol.dropConnection(abort=True)
    protocol.connectionLost()
    clock.advance(60)
    return cpu / messages * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=50000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    names = list(VARIANTS)
    results: Dict[str, List[float]] = {n: [] for n in names}
    for r in range(args.rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            results[name].append(measure(name, args.messages))
    base = statistics.median(results["all"])
    print(f"{'variant':8} {'us/msg':>8} {'ratio':>6}   rounds")
    for name in names:
        median = statistics.median(results[name])
        runs = " ".join(f"{v:.2f}" for v in results[name])
        print(f"{name:8} {median:8.2f} {median / base:6.2f}   {runs}")


if __name__ == "__main__":
    main()
