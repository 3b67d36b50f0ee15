"""
The C{eventsource} transport: frames as server-sent events.
"""

from __future__ import annotations

from .base import StreamingReceiver

__all__ = ["EventSource"]


class EventSource(StreamingReceiver):
    """
    A blank line (for old Opera), then C{data: <frame>} events.
    """

    __slots__ = ()

    content_type = b"text/event-stream"
    prelude = b"\r\n"

    def wrap(self, frame: bytes) -> bytes:
        # sockjs-client passes each event through decodeURI(): a literal
        # "%" must travel as "%25" (JSON already escaped CR, LF and NUL).
        if b"%" in frame:
            frame = frame.replace(b"%", b"%25")
        return b"data: " + frame + b"\r\n\r\n"
