"""
The plain integer counters of one SockJS endpoint.

Counting happens on the hot paths (every message in and out), so it is
nothing but C{+= 1} on a slotted object the session hub already holds; no
library is called until someone asks for the figures (L{txsockjs.metrics}
reads these at scrape time). This module imports nothing, so the core works
without prometheus_client.
"""

from __future__ import annotations

from typing import Dict

__all__ = ["EndpointCounters"]


class EndpointCounters:
    """
    What happened on one endpoint since it was made. Every field only grows.

    @ivar opened: sessions that opened, by transport name.
    @ivar closed: sessions that began to close, by close code.
    @ivar messages_in: messages received from clients.
    @ivar bytes_in: bytes of those messages as they arrived (a websocket
        message's payload, an HTTP send's body).
    @ivar messages_out: messages handed to receivers for the clients.
    @ivar bytes_out: bytes of SockJS frames (or raw websocket payloads)
        carrying them, before HTTP or websocket framing.
    @ivar heartbeats: heartbeats sent (frames, or websocket pings).
    @ivar expired: sessions ended by the disconnect delay (no receiver came
        back in time).
    @ivar message_too_large: websocket messages refused with 1009.
    @ivar queue_full: sessions closed with 1013 (queue overflow).
    @ivar write_timeouts: connections aborted because they could not drain
        their writes within the write timeout.
    @ivar session_cap: requests refused with 503 because C{max_sessions} was
        reached.
    @ivar handshakes_refused: websocket requests answered 400/405 instead of
        an upgrade.
    @ivar application_errors: sessions closed with 1011 because the
        application (or a receiver) raised.
    @ivar bad_input: sessions closed with 1007 (text the codec cannot carry,
        invalid UTF-8 on the raw websocket).
    @ivar broken_json: sends and websocket messages refused as broken JSON
        or without a payload.
    """

    __slots__ = (
        "opened",
        "closed",
        "messages_in",
        "bytes_in",
        "messages_out",
        "bytes_out",
        "heartbeats",
        "expired",
        "message_too_large",
        "queue_full",
        "write_timeouts",
        "session_cap",
        "handshakes_refused",
        "application_errors",
        "bad_input",
        "broken_json",
    )

    def __init__(self) -> None:
        self.opened: Dict[str, int] = {}
        self.closed: Dict[int, int] = {}
        self.messages_in = 0
        self.bytes_in = 0
        self.messages_out = 0
        self.bytes_out = 0
        self.heartbeats = 0
        self.expired = 0
        self.message_too_large = 0
        self.queue_full = 0
        self.write_timeouts = 0
        self.session_cap = 0
        self.handshakes_refused = 0
        self.application_errors = 0
        self.bad_input = 0
        self.broken_json = 0

    def session_opened(self, transport: str) -> None:
        opened = self.opened
        opened[transport] = opened.get(transport, 0) + 1

    def session_closed(self, code: int) -> None:
        closed = self.closed
        closed[code] = closed.get(code, 0) + 1
