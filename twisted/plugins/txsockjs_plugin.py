"""
Twisted plugins of txsockjs: C{twistd sockjs}, and the C{sockjs:} server
endpoint description. Nothing is imported until a plugin is used.
"""

from twisted.application.service import ServiceMaker
from twisted.internet.interfaces import IStreamServerEndpointStringParser
from twisted.plugin import IPlugin
from zope.interface import implementer

txsockjs = ServiceMaker(
    "txsockjs",
    "txsockjs.tap",
    "Serve Twisted protocol factories over SockJS",
    "sockjs",
)


@implementer(IPlugin, IStreamServerEndpointStringParser)
class _SockJSServerParser:
    prefix = "sockjs"

    def parseStreamServer(self, reactor, *args, **kwargs):
        from txsockjs.endpoints import parseStreamServer

        return parseStreamServer(reactor, *args, **kwargs)


sockjsEndpointParser = _SockJSServerParser()
