"""
The C{htmlfile} transport: a forever-loading page that calls its parent.
"""

from __future__ import annotations

from typing import Optional

from twisted.internet.interfaces import IReactorTime
from twisted.web.iweb import IRequest

from .._framing import json_string
from ..session import Session
from .base import StreamingReceiver

__all__ = ["HtmlFile", "page_head"]

_HEAD = b"""<!doctype html>
<html><head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head><body><h2>Don't panic!</h2>
  <script>
    document.domain = document.domain;
    var c = parent.%s;
    c.start();
    function p(d) {c.message(d);};
    window.onload = function() {c.stop();};
  </script>"""


def page_head(callback: bytes) -> bytes:
    """
    The page's head for a callback name that was validated already, padded
    past 1 KiB so that browsers start rendering it at once.
    """
    head = _HEAD % (callback,)
    return head + b" " * max(0, 1025 - len(head)) + b"\r\n"


class HtmlFile(StreamingReceiver):
    """
    Each frame is a C{<script>} calling C{p()} with the frame as a string.
    """

    __slots__ = ("callback",)

    content_type = b"text/html; charset=UTF-8"

    def __init__(
        self,
        request: IRequest,
        session: Session,
        limit: int,
        callback: bytes,
        write_timeout: Optional[float] = None,
        clock: Optional[IReactorTime] = None,
    ) -> None:
        StreamingReceiver.__init__(self, request, session, limit, write_timeout, clock)
        self.callback = callback

    def first_bytes(self) -> bytes:
        return page_head(self.callback)

    def wrap(self, frame: bytes) -> bytes:
        return b"<script>\np(" + json_string(frame) + b");\n</script>\r\n"
