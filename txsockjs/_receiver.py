"""
The seam between a session and what carries its frames to the client.
"""

from zope.interface import Interface

__all__ = ["IReceiver"]


class IReceiver(Interface):
    """
    One channel that carries frames from a session to the client: a polling or
    streaming HTTP response, or a websocket connection.
    """

    def send_frame(frame: bytes) -> None:
        """
        Carry one encoded SockJS frame (C{o}, C{h}, C{a[...]} or C{c[...]}).

        A receiver that can carry no more (a poll that has its frame, a stream
        at its response limit) detaches itself from the session.
        """

    def close() -> None:
        """
        End the response or the connection; called after a close frame.
        """

    def heartbeat() -> None:
        """
        Keep the channel alive: an C{h} frame on HTTP, a ping on websockets.
        """
