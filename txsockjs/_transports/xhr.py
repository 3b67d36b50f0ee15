"""
The XHR transports: C{xhr} (polling), C{xhr_streaming} and C{xhr_send}.
"""

from __future__ import annotations

from .base import PollingReceiver, StreamingReceiver

__all__ = ["XhrPolling", "XhrStreaming", "PRELUDE"]

#: 2 KiB of C{h} so that browsers start handing the stream to the page.
PRELUDE = b"h" * 2048 + b"\n"


class XhrPolling(PollingReceiver):
    """
    One frame and a newline per C{POST}.
    """

    __slots__ = ()

    def wrap(self, frame: bytes) -> bytes:
        return frame + b"\n"


class XhrStreaming(StreamingReceiver):
    """
    A prelude, then frames each on a line, until the response limit.
    """

    __slots__ = ()

    prelude = PRELUDE

    def wrap(self, frame: bytes) -> bytes:
        return frame + b"\n"
