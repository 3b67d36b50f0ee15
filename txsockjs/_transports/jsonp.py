"""
The JSONP transports: C{jsonp} (polling) and C{jsonp_send}.
"""

from __future__ import annotations

from twisted.web.iweb import IRequest

from .._framing import json_string
from ..session import Session
from .base import PollingReceiver

__all__ = ["JsonpPolling"]


class JsonpPolling(PollingReceiver):
    """
    One frame per C{GET}, as the argument of the page's callback.
    """

    __slots__ = ("callback",)

    def __init__(self, request: IRequest, session: Session, callback: bytes) -> None:
        PollingReceiver.__init__(self, request, session)
        self.callback = callback

    def wrap(self, frame: bytes) -> bytes:
        return b"/**/" + self.callback + b"(" + json_string(frame) + b");\r\n"
