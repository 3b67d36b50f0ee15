"""
L{txsockjs.Options}: the reference servers' defaults, and every invalid
value refused at construction with a message naming its field.
"""

from __future__ import annotations

import dataclasses

from autobahn.twisted.websocket import WebSocketServerFactory
from twisted.internet.protocol import Factory, Protocol
from twisted.trial.unittest import SynchronousTestCase

from txsockjs import Options, SockJSResource
from txsockjs.options import TRANSPORTS

INVALID = [
    ("websocket", "yes"),
    ("websocket", 1),
    ("websocket", None),
    ("raw_websocket", "no"),
    ("raw_websocket", 0),
    ("jsessionid", "JSESSIONID"),
    ("jsessionid", 1),
    ("sockjs_url", ""),
    ("sockjs_url", None),
    ("sockjs_url", b"http://x/sockjs.js"),
    ("heartbeat_delay", 0),
    ("heartbeat_delay", -1),
    ("heartbeat_delay", "25"),
    ("heartbeat_delay", True),
    ("heartbeat_delay", None),
    ("heartbeat_delay", float("nan")),
    ("disconnect_delay", 0),
    ("disconnect_delay", -0.5),
    ("disconnect_delay", "5"),
    ("disconnect_delay", False),
    ("response_limit", 0),
    ("response_limit", -1),
    ("response_limit", 1.5),
    ("response_limit", "4096"),
    ("response_limit", True),
    ("websocket_factory", object()),
    ("websocket_factory", "autobahn"),
    ("websocket_write_timeout", 0),
    ("websocket_write_timeout", -1),
    ("websocket_write_timeout", "1"),
    ("streaming_write_timeout", 0),
    ("streaming_write_timeout", -1),
    ("streaming_write_timeout", "1"),
    ("metrics_path", "metrics"),
    ("metrics_path", "/"),
    ("metrics_path", b"/metrics"),
    ("max_message_size", 0),
    ("max_message_size", -1),
    ("max_message_size", 1.5),
    ("max_message_size", "1024"),
    ("max_message_size", True),
    ("origins", "*:*"),
    ("origins", [1]),
    ("origins", ["*:*", None]),
    ("check_origin", "yes"),
    ("check_origin", 1),
    ("disabled_transports", {"nope"}),
    ("disabled_transports", ["xhr", "smoke_signals"]),
    ("encoding", "no-such-codec"),
    ("encoding", 8),
    # -- session limits
    ("max_queue_size", 0),
    ("max_queue_size", -1),
    ("max_queue_size", 1.5),
    ("max_queue_size", "4096"),
    ("max_queue_size", True),
    # -- HTTP limits
    ("max_body_size", 0),
    ("max_body_size", 1.5),
    ("max_body_size", True),
    ("header_timeout", 0),
    ("header_timeout", "20"),
    ("idle_timeout", -1),
    ("idle_timeout", float("nan")),
    ("max_connections", 0),
    ("max_connections", "100"),
    ("max_sessions", -5),
    ("max_sessions", False),
]


class OptionsTests(SynchronousTestCase):
    def test_defaults(self):
        o = Options()
        self.assertIs(o.websocket, True)
        self.assertIs(o.raw_websocket, False)
        self.assertIsNone(o.jsessionid)
        self.assertTrue(o.sockjs_url.startswith("https://"))
        self.assertIn("sockjs", o.sockjs_url)
        self.assertIn("1.", o.sockjs_url)
        self.assertEqual(o.heartbeat_delay, 25)
        self.assertEqual(o.disconnect_delay, 5)
        self.assertEqual(o.response_limit, 128 * 1024)
        self.assertIsNone(o.websocket_factory)
        self.assertEqual(o.websocket_write_timeout, 10.0)
        self.assertEqual(o.streaming_write_timeout, 10.0)
        self.assertEqual(o.max_message_size, 1024 * 1024)
        self.assertEqual(tuple(o.origins), ("*:*",))
        self.assertIsNone(o.check_origin)
        self.assertEqual(o.disabled_transports, frozenset())
        for transport in TRANSPORTS:
            self.assertTrue(o.serves(transport), transport)
        self.assertFalse(o.serves("raw_websocket"))
        # room for eight of /amplify's 512 KiB replies
        self.assertEqual(o.max_queue_size, 4 * 1024 * 1024)

    def test_invalid(self):
        for name, value in INVALID:
            with self.assertRaises((TypeError, ValueError), msg=f"{name}={value!r}") as cm:
                Options(**{name: value})
            self.assertIn(name, str(cm.exception), f"{name}={value!r}: {cm.exception}")

    def test_invalid_through_replace(self):
        base = Options(raw_websocket=True)
        for name, value in INVALID:
            with self.assertRaises((TypeError, ValueError), msg=f"{name}={value!r}") as cm:
                dataclasses.replace(base, **{name: value})
            self.assertIn(name, str(cm.exception))

    def test_every_field_checked(self):
        # each field of Options has at least one invalid value above
        checked = {name for name, _ in INVALID}
        fields = {f.name for f in dataclasses.fields(Options)}
        self.assertEqual(fields - checked, set())

    def test_valid_values(self):
        factory = WebSocketServerFactory()
        o = Options(
            websocket=False,
            raw_websocket=True,
            jsessionid=True,
            sockjs_url="http://localhost/sockjs.js",
            heartbeat_delay=0.01,
            disconnect_delay=1,
            response_limit=1,
            websocket_factory=factory,
            websocket_write_timeout=2.5,
            origins=["example.com:*", "*:8080"],
            check_origin=lambda request: True,
            disabled_transports={"eventsource", "htmlfile"},
            encoding="latin-1",
        )
        self.assertEqual(o.origins, ("example.com:*", "*:8080"))
        self.assertEqual(o.disabled_transports, frozenset({"eventsource", "htmlfile"}))
        self.assertFalse(o.serves("websocket"))
        self.assertFalse(o.serves("raw_websocket"))
        self.assertFalse(o.serves("htmlfile"))
        self.assertTrue(o.serves("xhr"))
        Options(jsessionid=lambda request: None)
        Options(jsessionid=False)
        Options(disabled_transports=["raw_websocket"])
        # None: no limit, wait for ever
        o = Options(max_message_size=None, websocket_write_timeout=None, streaming_write_timeout=None)
        self.assertIsNone(o.max_message_size)
        self.assertEqual(Options(max_message_size=10, streaming_write_timeout=0.5).max_message_size, 10)

    def test_frozen(self):
        o = Options()
        with self.assertRaises(dataclasses.FrozenInstanceError):
            o.response_limit = 1  # type: ignore[misc]

    def test_resource_wants_options(self):
        factory = Factory.forProtocol(Protocol)
        with self.assertRaises(TypeError) as cm:
            SockJSResource(factory, {"websocket": False})  # type: ignore[arg-type]
        self.assertIn("options", str(cm.exception))
        SockJSResource(factory, Options())
