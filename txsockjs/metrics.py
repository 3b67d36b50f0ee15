"""
Prometheus metrics of a txsockjs server, read at scrape time.

The hot paths only bump plain integers (L{txsockjs._counters}); this module
turns them into prometheus_client metric families when Prometheus asks, so
having metrics on costs nothing between scrapes. It needs prometheus_client
(C{pip install txsockjs[metrics]}); the rest of txsockjs does not import it.

Serve them with C{Options(metrics_path="/metrics")} on a
L{txsockjs.SockJSSite}, C{twistd sockjs --metrics=/metrics}, or put a
L{MetricsResource} in your own tree. To add them to a registry of your own
(beside your application's metrics), register a L{SockJSCollector}.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, Iterator, Mapping, Optional, Protocol, Union

try:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry
except ImportError as e:  # pragma: no cover - depends on the installation
    raise ImportError(
        "txsockjs metrics need prometheus_client: pip install 'txsockjs[metrics]'"
    ) from e

from twisted.web.iweb import IRequest
from twisted.web.resource import Resource

from ._counters import EndpointCounters

__all__ = ["SockJSCollector", "MetricsResource", "METRIC_NAMES"]

#: every metric this module exports (counters without their C{_total})
METRIC_NAMES = (
    "sockjs_sessions_open",
    "sockjs_sessions_opened",
    "sockjs_sessions_closed",
    "sockjs_sessions_expired",
    "sockjs_messages_received",
    "sockjs_messages_sent",
    "sockjs_received_bytes",
    "sockjs_sent_bytes",
    "sockjs_heartbeats_sent",
    "sockjs_limits_hit",
    "sockjs_websocket_handshakes_refused",
    "sockjs_errors",
    "sockjs_http_refusals",
    "sockjs_http_connections_open",
    "sockjs_http_connections_evicted",
)

#: (label value, counter attribute) of sockjs_limits_hit
_LIMITS = (
    ("message_too_large", "message_too_large"),
    ("queue_full", "queue_full"),
    ("write_timeout", "write_timeouts"),
    ("session_cap", "session_cap"),
)
#: (label value, counter attribute) of sockjs_errors
_ERRORS = (
    ("application", "application_errors"),
    ("bad_input", "bad_input"),
    ("broken_json", "broken_json"),
)


class _Hub(Protocol):
    @property
    def counters(self) -> EndpointCounters: ...


class _OpenSession(Protocol):
    @property
    def transport_name(self) -> str: ...


class _Endpoint(Protocol):
    """
    What the collector reads from a L{txsockjs.SockJSResource}.
    """

    @property
    def hub(self) -> _Hub: ...

    def open_sessions(self) -> Iterable[_OpenSession]: ...


class _Site(Protocol):
    """
    What the collector reads from a L{txsockjs.SockJSSite}: its endpoints
    (its connection figures are read when it has them).
    """

    @property
    def endpoints(self) -> Mapping[str, _Endpoint]: ...


Endpoints = Union[Mapping[str, _Endpoint], Callable[[], Mapping[str, _Endpoint]]]


class SockJSCollector:
    """
    A prometheus_client collector for SockJS endpoints (and, optionally, the
    L{txsockjs.SockJSSite} that serves them).

    @param endpoints: L{txsockjs.SockJSResource}s by the name their
        C{endpoint} label gets, or a callable giving them (read at each
        scrape, so endpoints added later are seen).
    @param site: a L{txsockjs.SockJSSite} whose connection figures are
        exported too.
    """

    def __init__(self, endpoints: Endpoints, site: Optional[_Site] = None) -> None:
        self._endpoints = endpoints
        self._site = site

    def _current(self) -> Mapping[str, _Endpoint]:
        endpoints = self._endpoints
        return endpoints() if callable(endpoints) else endpoints

    def collect(self) -> Iterator[Metric]:
        endpoints = self._current()
        e = ["endpoint"]
        open_ = GaugeMetricFamily(
            "sockjs_sessions_open", "Sessions open now, by transport.", labels=e + ["transport"]
        )
        opened = CounterMetricFamily(
            "sockjs_sessions_opened", "Sessions opened, by transport.", labels=e + ["transport"]
        )
        closed = CounterMetricFamily(
            "sockjs_sessions_closed", "Sessions closed, by SockJS close code.", labels=e + ["code"]
        )
        expired = CounterMetricFamily(
            "sockjs_sessions_expired",
            "Sessions ended by the disconnect delay (no receiver came back).",
            labels=e,
        )
        msg_in = CounterMetricFamily(
            "sockjs_messages_received", "Messages received from clients.", labels=e
        )
        msg_out = CounterMetricFamily(
            "sockjs_messages_sent", "Messages sent to clients.", labels=e
        )
        bytes_in = CounterMetricFamily(
            "sockjs_received_bytes",
            "Bytes received: websocket message payloads and HTTP send bodies.",
            labels=e,
        )
        bytes_out = CounterMetricFamily(
            "sockjs_sent_bytes",
            "Bytes of SockJS frames (raw websocket payloads) sent, before HTTP or websocket framing.",
            labels=e,
        )
        beats = CounterMetricFamily(
            "sockjs_heartbeats_sent", "Heartbeats sent (frames or websocket pings).", labels=e
        )
        limits = CounterMetricFamily(
            "sockjs_limits_hit",
            "Limits hit: message_too_large (1009), queue_full (1013), write_timeout (abort), "
            "session_cap (503).",
            labels=e + ["limit"],
        )
        refused = CounterMetricFamily(
            "sockjs_websocket_handshakes_refused",
            "Websocket requests answered 400/405 instead of an upgrade.",
            labels=e,
        )
        errors = CounterMetricFamily(
            "sockjs_errors",
            "Sessions or requests ended by an error: application (1011), bad_input (1007), "
            "broken_json.",
            labels=e + ["kind"],
        )
        for name, resource in endpoints.items():
            c = resource.hub.counters
            by_transport: Dict[str, int] = dict.fromkeys(c.opened, 0)
            for session in resource.open_sessions():
                transport = session.transport_name
                by_transport[transport] = by_transport.get(transport, 0) + 1
            for transport, count in sorted(by_transport.items()):
                open_.add_metric([name, transport], count)
            for transport, count in sorted(c.opened.items()):
                opened.add_metric([name, transport], count)
            for code, count in sorted(c.closed.items()):
                closed.add_metric([name, str(code)], count)
            expired.add_metric([name], c.expired)
            msg_in.add_metric([name], c.messages_in)
            msg_out.add_metric([name], c.messages_out)
            bytes_in.add_metric([name], c.bytes_in)
            bytes_out.add_metric([name], c.bytes_out)
            beats.add_metric([name], c.heartbeats)
            for label, attribute in _LIMITS:
                limits.add_metric([name, label], getattr(c, attribute))
            refused.add_metric([name], c.handshakes_refused)
            for label, attribute in _ERRORS:
                errors.add_metric([name, label], getattr(c, attribute))
        yield from (open_, opened, closed, expired, msg_in, msg_out, bytes_in, bytes_out)
        yield from (beats, limits, refused, errors)
        site = self._site
        if site is not None:
            http = CounterMetricFamily(
                "sockjs_http_refusals",
                "HTTP refusals: body_too_large (413), header_timeout (408), connection_cap (503).",
                labels=["limit"],
            )
            http.add_metric(["body_too_large"], getattr(site, "body_refusals", 0))
            http.add_metric(["header_timeout"], getattr(site, "header_timeouts", 0))
            http.add_metric(["connection_cap"], getattr(site, "refusals", 0))
            yield http
            yield GaugeMetricFamily(
                "sockjs_http_connections_open",
                "HTTP connections open now (websockets included).",
                value=getattr(site, "connections", 0),
            )
            yield CounterMetricFamily(
                "sockjs_http_connections_evicted",
                "Idle connections closed to make room under max_connections.",
                value=getattr(site, "evictions", 0),
            )


class MetricsResource(Resource):
    """
    Serves the figures of a site's endpoints as Prometheus text, from a
    registry of its own (nothing process-wide).

    @param site: the L{txsockjs.SockJSSite} (its C{endpoints} and
        connection figures), or C{None} with C{endpoints}.
    @param endpoints: L{txsockjs.SockJSResource}s by name, for a tree that
        is not served by a L{txsockjs.SockJSSite}.
    """

    isLeaf = True

    def __init__(self, site: Optional[_Site] = None, endpoints: Optional[Endpoints] = None) -> None:
        Resource.__init__(self)
        if endpoints is None:
            if site is None:
                raise TypeError("MetricsResource needs a site or endpoints")
            endpoints = lambda: site.endpoints  # noqa: E731
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(SockJSCollector(endpoints, site))

    def render_GET(self, request: IRequest) -> bytes:
        request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode("ascii"))
        request.setHeader(b"cache-control", b"no-store")
        return generate_latest(self.registry)
