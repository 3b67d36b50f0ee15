"""
The SockJS client against txsockjs (examples/test_server.py, a subprocess on
127.0.0.1) over every client transport, and a real websocket failure that
makes the client fall back.
"""

from __future__ import annotations

import json
import ipaddress
from typing import Any, Tuple

from twisted.internet import defer, reactor, ssl
from twisted.internet.protocol import Factory
from twisted.protocols.policies import WrappingFactory
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.trial import unittest
from twisted.web.resource import Resource
from twisted.web.iweb import IPolicyForHTTPS
from twisted.web.server import Site
from zope.interface import implementer

from txsockjs import Options, SockJSResource
from txsockjs.client import SockJSClientEndpoint, SockJSConnectError

from ._client_support import LiveClientTests, Recorder, stop_shared_servers
from ._helpers import sockets_closed


def tearDownModule() -> None:
    stop_shared_servers()


class WebsocketTests(LiveClientTests, unittest.TestCase):
    transport = "websocket"


class XHRStreamingTests(LiveClientTests, unittest.TestCase):
    transport = "xhr-streaming"


class XHRPollingTests(LiveClientTests, unittest.TestCase):
    transport = "xhr-polling"


class JSON(Resource):
    isLeaf = True

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.body = json.dumps(value).encode()

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"application/json; charset=UTF-8")
        return self.body


def serve(case: unittest.TestCase, root: Resource, *resources: SockJSResource, tls: Any = None) -> Any:
    """
    Serve C{root} on a free 127.0.0.1 port for one test; at its end, close
    the sessions and drop every connection (WrappingFactory keeps them).
    """
    factory: Any = Site(root)
    if tls is not None:
        # TLS inside the tracking wrapper: Autobahn wants to see the TLS transport
        factory = TLSMemoryBIOFactory(tls, False, factory)
    wrapping = WrappingFactory(factory)
    port = reactor.listenTCP(0, wrapping, interface="127.0.0.1")

    @defer.inlineCallbacks
    def stop():
        for resource in resources:
            resource.shutdown()
        yield port.stopListening()
        yield sockets_closed([p.transport for p in wrapping.protocols], abort=True)

    case.addCleanup(stop)
    return port


class BlockedWebsocketTests(unittest.TestCase):
    """
    A proxy that blocks websockets though the server offers them: /info
    says yes, the websocket URL fails, and the client falls back.
    """

    timeout = 60

    @defer.inlineCallbacks
    def test_fall_back(self):
        from twisted.protocols.wire import Echo

        sockjs = SockJSResource(Factory.forProtocol(Echo), Options(websocket=False), reactor)

        class Lying(Resource):
            def getChild(self, name: bytes, request: Any) -> Any:
                if name == b"info":
                    return JSON({"websocket": True, "cookie_needed": False, "origins": ["*:*"], "entropy": 1})
                request.prepath.pop()
                request.postpath.insert(0, name)
                return sockjs

        root = Resource()
        root.putChild(b"echo", Lying())
        port = serve(self, root, sockjs)
        url = f"http://127.0.0.1:{port.getHost().port}/echo"
        endpoint = SockJSClientEndpoint(reactor, url, ["websocket", "xhr-streaming"], timeout=10)
        client = yield endpoint.connect(Factory.forProtocol(Recorder))
        self.assertEqual(client.transport.transport_name, "xhr-streaming")
        self.assertTrue(client.transport.info.websocket)
        client.transport.write(b"fell back")
        self.assertEqual((yield client.next()), b"fell back")
        client.transport.loseConnection()
        yield client.lost


def self_signed() -> Tuple[Any, Any]:
    """
    A certificate for 127.0.0.1 and its private key, as Twisted objects.
    """
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    pem_cert = cert.public_bytes(serialization.Encoding.PEM)
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return ssl.Certificate.loadPEM(pem_cert), ssl.PrivateCertificate.loadPEM(pem_key + pem_cert)


@implementer(IPolicyForHTTPS)
class TrustOnly:
    """
    Trust one certificate (the test server's), with hostname checks.
    """

    def __init__(self, certificate: Any) -> None:
        self.certificate = certificate

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        return ssl.optionsForClientTLS(hostname.decode("ascii"), trustRoot=self.certificate)


class TLSTests(unittest.TestCase):
    """
    https:// and wss:// through treq and Autobahn, with a caller's trust.
    """

    timeout = 60

    def setUp(self) -> None:
        from twisted.protocols.wire import Echo

        certificate, private = self_signed()
        self.policy = TrustOnly(certificate)
        self.sockjs = SockJSResource(Factory.forProtocol(Echo), Options(), reactor)
        root = Resource()
        root.putChild(b"echo", self.sockjs)
        port = serve(self, root, self.sockjs, tls=private.options())
        self.url = f"https://127.0.0.1:{port.getHost().port}/echo"

    @defer.inlineCallbacks
    def check(self, transport: str):
        endpoint = SockJSClientEndpoint(reactor, self.url, [transport], timeout=10, tls_policy=self.policy)
        client = yield endpoint.connect(Factory.forProtocol(Recorder))
        self.assertEqual(client.transport.transport_name, transport)
        client.transport.write(b"secret")
        self.assertEqual((yield client.next()), b"secret")
        client.transport.loseConnection()
        yield client.lost

    def test_websocket(self):
        return self.check("websocket")

    def test_xhr_streaming(self):
        return self.check("xhr-streaming")

    def test_xhr_polling(self):
        return self.check("xhr-polling")

    @defer.inlineCallbacks
    def test_untrusted(self):
        """
        Without the caller's trust, the self-signed server is refused.
        """
        endpoint = SockJSClientEndpoint(reactor, self.url, ["websocket"], timeout=10)
        failure = yield self.assertFailure(endpoint.connect(Factory.forProtocol(Recorder)), SockJSConnectError)
        self.assertEqual(failure.attempts[0][0], "info")


class StickyCookieTests(unittest.TestCase):
    """
    A balancer's sticky cookie, set on the first session response, comes
    back on every later request of the session (cookie_needed servers).
    """

    timeout = 60

    @defer.inlineCallbacks
    def check(self, transport: str):
        from twisted.protocols.wire import Echo

        seen: list = []

        def sticky(request: Any) -> None:
            seen.append((request.path.rsplit(b"/", 1)[-1], request.getCookie(b"JSESSIONID")))
            request.cookies.append(b"JSESSIONID=sticky-1; path=/")

        sockjs = SockJSResource(Factory.forProtocol(Echo), Options(jsessionid=sticky), reactor)
        root = Resource()
        root.putChild(b"echo", sockjs)
        port = serve(self, root, sockjs)
        url = f"http://127.0.0.1:{port.getHost().port}/echo"
        client = yield SockJSClientEndpoint(reactor, url, [transport], timeout=10).connect(Factory.forProtocol(Recorder))
        self.assertTrue(client.transport.info.cookie_needed)
        for text in (b"one", b"two"):
            client.transport.write(text)
            self.assertEqual((yield client.next()), text)
        client.transport.loseConnection()
        yield client.lost
        self.assertEqual(seen[0][1], None)
        self.assertIn(b"xhr_send", [path for path, _ in seen])
        self.assertEqual({cookie for _, cookie in seen[1:]}, {b"sticky-1"})

    def test_xhr_streaming(self):
        return self.check("xhr-streaming")

    def test_xhr_polling(self):
        return self.check("xhr-polling")
