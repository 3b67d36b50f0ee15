"""
The C{sockjs:} client endpoint description of txsockjs (the server side's
C{sockjs:} lives in txsockjs_plugin.py). Nothing is imported until it is used:

    clientFromString(reactor, "sockjs:http://127.0.0.1:8080/echo:transports=websocket")
"""

from twisted.internet.interfaces import IStreamClientEndpointStringParserWithReactor
from twisted.plugin import IPlugin
from zope.interface import implementer


@implementer(IPlugin, IStreamClientEndpointStringParserWithReactor)
class _SockJSClientParser:
    prefix = "sockjs"

    def parseStreamClient(self, reactor, *args, **kwargs):
        from txsockjs.client._endpoint import parseStreamClient

        return parseStreamClient(reactor, *args, **kwargs)


sockjsClientEndpointParser = _SockJSClientParser()
