"""
What an application sees of txsockjs, as zope interfaces.
"""

from zope.interface import Attribute, Interface

__all__ = ["ISockJSSession", "IMessageProtocol"]


class ISockJSSession(Interface):
    """
    One SockJS session as the application sees it. It is also the
    C{twisted.internet.interfaces.ITransport} of the application's protocol.
    """

    session_id = Attribute("The session id from the URL (C{str}).")
    state = Attribute("A L{txsockjs.SessionState}.")
    request = Attribute(
        "A L{txsockjs.RequestInfo} describing the HTTP request that opened the session."
    )
    transport_name = Attribute("The transport that opened it, e.g. C{'xhr_streaming'}.")
    protocol = Attribute("The application protocol attached to this session.")

    def send(message: str) -> None:
        """
        Queue one message for the client.

        @raise txsockjs.SessionNotOpen: the session is closing or closed.
        """

    def close(code: int = 3000, reason: str = "Go away!") -> None:
        """
        Close the session; the client gets C{c[code,"reason"]}.
        """


class IMessageProtocol(Interface):
    """
    Optional: a protocol that provides C{messageReceived} gets each SockJS
    message as text instead of as UTF-8 bytes through C{dataReceived}.
    """

    def messageReceived(message: str) -> None:
        """
        One message from the client.
        """
