"""
The seam between a client session and the transports that carry its frames.
"""

from __future__ import annotations

from typing import List

from zope.interface import Attribute, Interface

__all__ = ["IClientTransport", "IFrameSink"]


class IFrameSink(Interface):
    """
    What a transport reports to: the session.
    """

    def frame_received(frame: str) -> None:
        """
        One SockJS frame (C{o}, C{h}, C{a[...]}, C{m"..."} or C{c[...]}), without
        its line end. A websocket ping is reported as C{h}.
        """

    def transport_lost(code: int, reason: str) -> None:
        """
        The transport is torn down (no connection or request of it is left),
        called once. C{code} and C{reason} say why when it failed (1006 ...);
        after C{close()} or C{abort()} they carry no news.
        """


class IClientTransport(Interface):
    """
    One way of carrying a client session (websocket, xhr-streaming, ...).
    """

    name = Attribute("The sockjs-client name: C{'websocket'}, C{'xhr-streaming'}, C{'xhr-polling'}.")

    def start(sink: IFrameSink) -> None:
        """
        Connect and report frames to C{sink}.
        """

    def send(messages: List[str]) -> None:
        """
        Send C{messages}, in order after what was sent before.
        """

    def close(code: int, reason: str) -> None:
        """
        Stop after what was sent is delivered; C{transport_lost} follows.
        """

    def abort() -> None:
        """
        Stop now, dropping what is not sent; C{transport_lost} follows.
        """
