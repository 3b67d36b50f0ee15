"""
Metrics (txsockjs.metrics): the figures move as sessions open, send, close,
expire and hit limits, read through prometheus_client's own exposition and
parser; and a real scrape of C{/metrics} on examples/test_server.py.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Tuple

import treq
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import defer, reactor
from twisted.internet.protocol import Factory, Protocol
from twisted.trial import unittest
from twisted.web.client import HTTPConnectionPool

from txsockjs import Options, SockJSSite
from txsockjs._framing import message_frame
from txsockjs.metrics import METRIC_NAMES, MetricsResource
from txsockjs.testing import SockJSTestServer

from ._serverproc import ServerProcess

Sample = Tuple[str, Tuple[Tuple[str, str], ...]]


def parse(text: str) -> Dict[Sample, float]:
    """
    Every sample of a Prometheus text page, by name and sorted labels.
    """
    samples: Dict[Sample, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


class Echo(Protocol):
    def messageReceived(self, message: str) -> None:
        if message == "bye":
            self.transport.close(3000, "Go away!")
        elif message == "boom":
            raise RuntimeError("the application failed")
        elif message.startswith("flood"):
            self.transport.send("x" * 5000)
        else:
            self.transport.send(message)


class InMemoryMetricsTests(unittest.SynchronousTestCase):
    """
    The counters of one endpoint, on a Clock, scraped through
    L{MetricsResource} (prometheus_client's registry and exposition).
    """

    options = Options()

    def setUp(self) -> None:
        self.server = SockJSTestServer.serving(Factory.forProtocol(Echo), self.options)
        self.metrics = MetricsResource(endpoints={"/echo": self.server.resource})

    def scrape(self) -> Dict[Sample, float]:
        from prometheus_client.exposition import generate_latest

        return parse(generate_latest(self.metrics.registry).decode("utf-8"))

    def value(self, name: str, **labels: str) -> float:
        labels["endpoint"] = "/echo"
        return self.scrape().get((name, tuple(sorted(labels.items()))), 0.0)

    def test_open_send_close(self) -> None:
        self.assertEqual(self.value("sockjs_sessions_open", transport="xhr_streaming"), 0)
        client = self.server.open("xhr_streaming")
        self.assertEqual(self.value("sockjs_sessions_open", transport="xhr_streaming"), 1)
        self.assertEqual(
            self.value("sockjs_sessions_opened_total", transport="xhr_streaming"), 1
        )
        exchange = client.send("héllo", "b")
        self.assertEqual(client.messages(), ["héllo", "b"])
        self.assertEqual(self.value("sockjs_messages_received_total"), 2)
        self.assertEqual(self.value("sockjs_messages_sent_total"), 2)
        self.assertEqual(
            self.value("sockjs_received_bytes_total"), len(json.dumps(["héllo", "b"]))
        )
        self.assertIsNotNone(exchange)
        # what went out: the a[...] frames the client got
        sent = sum(len(message_frame(list(f.messages))) for f in client.frames if f.kind == "a")
        self.assertEqual(self.value("sockjs_sent_bytes_total"), sent)
        client.send("bye")
        self.assertEqual(self.value("sockjs_sessions_closed_total", code="3000"), 1)
        self.assertEqual(self.value("sockjs_sessions_open", transport="xhr_streaming"), 0)

    def test_two_transports(self) -> None:
        self.server.open("xhr_streaming")
        self.server.open("websocket")
        self.server.open("websocket")
        self.assertEqual(self.value("sockjs_sessions_open", transport="websocket"), 2)
        self.assertEqual(self.value("sockjs_sessions_open", transport="xhr_streaming"), 1)

    def test_websocket_messages_and_heartbeats(self) -> None:
        client = self.server.open("websocket")
        client.send("a")
        client.send("b", "c")
        self.assertEqual(client.messages(), ["a", "b", "c"])
        self.assertEqual(self.value("sockjs_messages_received_total"), 3)
        self.assertEqual(self.value("sockjs_messages_sent_total"), 3)
        self.assertEqual(self.value("sockjs_heartbeats_sent_total"), 0)
        self.server.advance(25)
        self.assertEqual(client.pings, 1)
        self.assertEqual(self.value("sockjs_heartbeats_sent_total"), 1)

    def test_expiry(self) -> None:
        client = self.server.open("xhr")
        client.reconnect = False
        self.server.flush()
        self.assertEqual(self.value("sockjs_sessions_expired_total"), 0)
        # the poll held open ends with the heartbeat; no poll follows it
        self.server.advance(25)
        self.assertEqual(self.value("sockjs_sessions_expired_total"), 0)
        self.server.advance(5.5)
        self.assertEqual(self.value("sockjs_sessions_expired_total"), 1)
        self.assertEqual(self.value("sockjs_sessions_closed_total", code="1002"), 1)
        self.assertEqual(self.value("sockjs_sessions_open", transport="xhr"), 0)

    def test_application_error_and_broken_json(self) -> None:
        client = self.server.open("xhr_streaming")
        client.send("boom")
        self.assertEqual(self.value("sockjs_errors_total", kind="application"), 1)
        self.assertEqual(self.value("sockjs_sessions_closed_total", code="1011"), 1)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        other = self.server.open("xhr_streaming")
        exchange = self.server.request("POST", other.path + "/xhr_send", body=b"[broken")
        self.assertEqual(exchange.code, 500)
        self.assertEqual(self.value("sockjs_errors_total", kind="broken_json"), 1)

    def test_handshake_refused(self) -> None:
        exchange = self.server.request("GET", "/000/abc/websocket")
        self.assertEqual(exchange.code, 400)
        self.assertEqual(self.value("sockjs_websocket_handshakes_refused_total"), 1)

    def test_every_name_is_exported(self) -> None:
        names = {family.name for family in text_string_to_metric_families(
            MetricsResource(
                site=SockJSSite(self.server.resource, Options()),
                endpoints={"/echo": self.server.resource},
            ).render_GET(_Request()).decode()
        )}
        self.assertEqual(names, set(METRIC_NAMES))


class _Request:
    """
    Just enough of a request for C{render_GET}, which only sets headers.
    """

    def __init__(self) -> None:
        self.headers: Dict[bytes, bytes] = {}

    def setHeader(self, name: bytes, value: bytes) -> None:
        self.headers[name] = value


class LimitMetricsTests(InMemoryMetricsTests):
    options = Options(max_queue_size=4000, max_message_size=64, max_sessions=2)

    def test_queue_full(self) -> None:
        client = self.server.open("xhr")
        client.reconnect = False
        self.server.flush()
        client.send("flood")
        self.assertEqual(self.value("sockjs_limits_hit_total", limit="queue_full"), 1)
        self.assertEqual(self.value("sockjs_sessions_closed_total", code="1013"), 1)

    def test_message_too_large(self) -> None:
        client = self.server.open("websocket")
        client.send("y" * 100)
        self.assertEqual(
            self.value("sockjs_limits_hit_total", limit="message_too_large"), 1
        )
        self.assertEqual(self.value("sockjs_sessions_closed_total", code="1009"), 1)

    def test_session_cap(self) -> None:
        self.server.open("xhr_streaming")
        self.server.open("xhr_streaming")
        exchange = self.server.request("POST", "/000/third/xhr")
        self.assertEqual(exchange.code, 503)
        self.assertEqual(self.value("sockjs_limits_hit_total", limit="session_cap"), 1)

    # the two-transports test would hit the cap of 2 here
    test_two_transports = None  # type: ignore[assignment]


class ScrapeTestServerTests(unittest.TestCase):
    """
    C{/metrics} of examples/test_server.py over real HTTP: the figures move.
    """

    timeout = 30

    def setUp(self) -> None:
        self.server = ServerProcess.start("--max-body-size", "1000")
        self.addCleanup(self.server.remove_log)
        self.addCleanup(self.server.stop)
        self.pool = HTTPConnectionPool(reactor, persistent=False)
        self.addCleanup(self.pool.closeCachedConnections)

    @defer.inlineCallbacks
    def get(self, path: str, method: str = "GET", data: Any = None) -> Any:
        response = yield treq.request(
            method, self.server.url(path), data=data, pool=self.pool, timeout=10
        )
        body = yield treq.content(response)
        return response.code, response.headers, body

    @defer.inlineCallbacks
    def test_scrape_moves(self) -> None:
        code, headers, body = yield self.get("/metrics")
        self.assertEqual(code, 200)
        self.assertIn(b"text/plain", headers.getRawHeaders(b"content-type")[0])
        before = parse(body.decode())
        key = ("sockjs_messages_received_total", (("endpoint", "/echo"),))
        self.assertEqual(before[key], 0)
        code, _, body = yield self.get("/echo/000/s1/xhr", "POST")
        self.assertEqual(body, b"o\n")
        code, _, _ = yield self.get("/echo/000/s1/xhr_send", "POST", b'["a","b"]')
        self.assertEqual(code, 204)
        code, _, _ = yield self.get("/echo/000/s1/xhr_send", "POST", b"[" + b'"x",' * 500 + b'"x"]')
        self.assertEqual(code, 413)
        code, _, body = yield self.get("/metrics")
        after = parse(body.decode())
        self.assertEqual(after[key], 2)
        self.assertEqual(
            after[("sockjs_sessions_open", (("endpoint", "/echo"), ("transport", "xhr")))], 1
        )
        self.assertEqual(
            after[("sockjs_http_refusals_total", (("limit", "body_too_large"),))], 1
        )
        self.server.assert_no_tracebacks()


class ServingTests(unittest.SynchronousTestCase):
    """
    Where the metrics page is served: C{twistd sockjs --metrics}, a
    C{SockJSSite} whose endpoint is at its root, off by default.
    """

    def test_twistd_metrics_flag(self) -> None:
        from twisted.internet.task import Clock

        from txsockjs.tap import Options as TapOptions, build_service

        config = TapOptions()
        config.parseOptions(
            ["--handler=twisted.protocols.wire.Echo", "--prefix=/echo", "--metrics=/metrics"]
        )
        self.assertEqual(config["sockjs_options"].metrics_path, "/metrics")
        service = build_service(config, reactor=Clock())
        self.assertEqual(list(service.site.endpoints), ["/echo"])
        server = SockJSTestServer.for_site(service.site)
        self.addCleanup(server.stop)
        exchange = server.request("GET", "/metrics")
        self.assertEqual(exchange.code, 200)
        self.assertIn(b'sockjs_sessions_opened_total', exchange.data)

    def test_twistd_metrics_path_must_be_free(self) -> None:
        from twisted.python import usage

        from txsockjs.tap import Options as TapOptions

        config = TapOptions()
        with self.assertRaises(usage.UsageError):
            config.parseOptions(["--handler=twisted.protocols.wire.Echo", "--prefix=/m", "--metrics=/m"])

    def test_beside_an_endpoint_at_the_root(self) -> None:
        from twisted.internet.task import Clock

        from txsockjs import SockJSFactory

        clock = Clock()
        site = SockJSFactory(
            Factory.forProtocol(Echo), Options(metrics_path="/metrics"), prefix="", reactor=clock
        )
        server = SockJSTestServer.for_site(site)
        self.addCleanup(server.stop)
        client = server.open("xhr_streaming")
        client.send("a")
        page = parse(server.request("GET", "/metrics").data.split(b"\r\n\r\n", 1)[1].decode())
        self.assertEqual(page[("sockjs_messages_received_total", (("endpoint", "/"),))], 1)
        # the endpoint itself still answers at the root
        self.assertEqual(server.request("GET", "/info").code, 200)

    def test_off_by_default(self) -> None:
        from twisted.internet.task import Clock

        from txsockjs import SockJSFactory

        clock = Clock()
        site = SockJSFactory(Factory.forProtocol(Echo), Options(), prefix="/echo", reactor=clock)
        server = SockJSTestServer.for_site(site)
        self.addCleanup(server.stop)
        self.assertEqual(server.request("GET", "/metrics").code, 404)
