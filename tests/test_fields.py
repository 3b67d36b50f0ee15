"""
Tests for the one table of option fields (L{txsockjs._fields}): every
settable L{txsockjs.Options} field is both a C{twistd sockjs} flag and a
C{sockjs:} endpoint keyword, and both read a value alike.

The module-level objects below are named by dotted name.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any, Callable, Dict, List, Optional, Tuple

from autobahn.twisted.websocket import WebSocketServerFactory
from twisted.internet import reactor
from twisted.internet.endpoints import quoteStringArgument, serverFromString
from twisted.python import usage
from twisted.trial import unittest

import txsockjs
from txsockjs import endpoints, tap
from txsockjs._fields import FIELDS, OPTION_NAMES, Field, accept_deflate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: named by the samples below
WEBSOCKET_FACTORY = WebSocketServerFactory()


def allow_all(request: object) -> bool:
    return True


#: the fields of the server around the endpoint (not Options fields), and
#: whether each is a sockjs: keyword too
SETTINGS = {"websocket_compression": True, "shutdown_timeout": True, "drain_timeout": False}


def _attribute(name: str) -> Callable[[Any], object]:
    return lambda made: getattr(made, name)


def _compression(made: Any) -> object:
    factory = made.websocket_factory
    return factory is not None and factory.perMessageCompressionAccept is accept_deflate


#: For every field: the twistd arguments, the keyword's text (None: a flag
#: only), what the resulting Options (or, for a setting, the parsed twistd
#: configuration and endpoint) hold, and what that is.
SAMPLES: Dict[str, Tuple[List[str], Optional[str], Callable[[Any], object], object]] = {
    "websocket": (["--no-websocket"], "no", _attribute("websocket"), False),
    "raw_websocket": (["--raw-websocket"], "yes", _attribute("raw_websocket"), True),
    "jsessionid": (["--jsessionid"], "true", _attribute("jsessionid"), True),
    "websocket_compression": (["--websocket-compression"], "1", _compression, True),
    "heartbeat_delay": (["--heartbeat-delay=2.5"], "2.5", _attribute("heartbeat_delay"), 2.5),
    "disconnect_delay": (["--disconnect-delay=1"], "1", _attribute("disconnect_delay"), 1.0),
    "response_limit": (["--response-limit=4096"], "4096", _attribute("response_limit"), 4096),
    "sockjs_url": (
        ["--sockjs-url=https://example.com/s.js"],
        "https://example.com/s.js",
        _attribute("sockjs_url"),
        "https://example.com/s.js",
    ),
    "websocket_write_timeout": (
        ["--websocket-write-timeout=0"], "0", _attribute("websocket_write_timeout"), None
    ),
    "streaming_write_timeout": (
        ["--streaming-write-timeout=2.5"], "2.5", _attribute("streaming_write_timeout"), 2.5
    ),
    "max_message_size": (["--max-message-size=none"], "none", _attribute("max_message_size"), None),
    "encoding": (["--encoding=latin-1"], "latin-1", _attribute("encoding"), "latin-1"),
    "max_queue_size": (["--max-queue-size=65536"], "65536", _attribute("max_queue_size"), 65536),
    "websocket_factory": (
        ["--websocket-factory=tests.test_fields.WEBSOCKET_FACTORY"],
        "tests.test_fields.WEBSOCKET_FACTORY",
        _attribute("websocket_factory"),
        WEBSOCKET_FACTORY,
    ),
    "check_origin": (
        ["--check-origin=tests.test_fields.allow_all"],
        "tests.test_fields.allow_all",
        _attribute("check_origin"),
        allow_all,
    ),
    "origins": (
        ["--origin=https://example.com", "--origin=*.example.org", "--origin=h:8080"],
        "https://example.com,*.example.org,h:8080",
        _attribute("origins"),
        ("example.com:443", "*.example.org:*", "h:8080"),
    ),
    "disabled_transports": (
        ["--disable-transport=jsonp", "--disable-transport=htmlfile"],
        "jsonp,htmlfile",
        _attribute("disabled_transports"),
        frozenset({"jsonp", "htmlfile"}),
    ),
    "max_body_size": (["--max-body-size=4096"], "4096", _attribute("max_body_size"), 4096),
    "header_timeout": (["--header-timeout=0"], "0", _attribute("header_timeout"), None),
    "idle_timeout": (["--idle-timeout=7.5"], "7.5", _attribute("idle_timeout"), 7.5),
    "max_connections": (["--max-connections=none"], "none", _attribute("max_connections"), None),
    "max_sessions": (["--max-sessions=0"], "0", _attribute("max_sessions"), None),
    "metrics_path": (["--metrics=metrics/"], "metrics/", _attribute("metrics_path"), "/metrics"),
    "shutdown_timeout": (["--shutdown-timeout=0.5"], "0.5", _attribute("shutdown_timeout"), 0.5),
    "drain_timeout": (["--drain-timeout=4"], None, _attribute("drain_timeout"), 4.0),
}

#: a value each field refuses (switches take any flag; as keywords, not this)
BAD = {
    "heartbeat_delay": "soon",
    "disconnect_delay": "0",
    "response_limit": "1.5",
    "sockjs_url": " ",
    "websocket_write_timeout": "-1",
    "streaming_write_timeout": "nan",
    "max_message_size": "big",
    "encoding": "klingon",
    "max_queue_size": "0",
    "websocket_factory": "tests.test_fields.allow_all",
    "check_origin": "tests.test_fields.nothing_here",
    "origins": "http://",
    "disabled_transports": "pigeon",
    "max_body_size": "-1",
    "header_timeout": "soon",
    "idle_timeout": "-2",
    "max_connections": "1.5",
    "max_sessions": "lots",
    "metrics_path": "/",
    "shutdown_timeout": "-1",
    "drain_timeout": "-1",
}


class _Parsed:
    """
    What one command line made: the Options, and the settings by name.
    """

    def __init__(self, options: txsockjs.Options, **settings: object) -> None:
        self.options = options
        self.settings = settings

    def __getattr__(self, name: str) -> object:
        if name in self.settings:
            return self.settings[name]
        return getattr(self.options, name)


def twistd(*args: str) -> _Parsed:
    config = tap.Options()
    config.parseOptions(["--handler=twisted.protocols.wire.Echo", *args])
    return _Parsed(
        config["sockjs_options"],
        shutdown_timeout=config["shutdown-timeout"],
        drain_timeout=config["drain-timeout"],
    )


def endpoint(**keywords: str) -> _Parsed:
    description = "sockjs:tcp:0:interface=127.0.0.1" + "".join(
        f":{name}={quoteStringArgument(value)}" for name, value in keywords.items()
    )
    made = serverFromString(reactor, description)
    return _Parsed(made.options, shutdown_timeout=made.shutdown_timeout)


def field(name: str) -> Field:
    [found] = [f for f in FIELDS if f.name == name]
    return found


class TableTests(unittest.SynchronousTestCase):
    def test_every_option_field_is_a_flag_and_a_keyword(self) -> None:
        """
        Each L{txsockjs.Options} field has a row in the table, which makes
        it a C{twistd sockjs} flag (in C{--help}) and a C{sockjs:} keyword
        (listed as valid when a keyword is not); a field added to L{Options}
        without a row fails here.
        """
        usage_text = tap.Options().getUsage()
        valid = str(
            self.assertRaises(
                ValueError, serverFromString, reactor, "sockjs:tcp:0:not_a_keyword=1"
            )
        )
        names = {f.name for f in FIELDS}
        for declared in dataclasses.fields(txsockjs.Options):
            self.assertIn(declared.name, names, f"Options.{declared.name} has no row")
            row = field(declared.name)
            self.assertEqual(row.keyword, declared.name)
            self.assertIn(f"--{row.flag}", usage_text)
            self.assertIn(row.help.split()[0], usage_text)
            self.assertRegex(valid, rf"\b{row.keyword}\b")

    def test_no_stranger(self) -> None:
        """
        A row that is not an L{Options} field is a setting of the server
        around it, known here, with its default; rows and flags are unique.
        """
        for row in FIELDS:
            if row.name not in OPTION_NAMES:
                self.assertIn(row.name, SETTINGS)
                self.assertEqual(row.keyword is not None, SETTINGS[row.name])
        self.assertEqual(len({f.name for f in FIELDS}), len(FIELDS))
        self.assertEqual(len({f.flag for f in FIELDS}), len(FIELDS))
        self.assertEqual(field("shutdown_timeout").default_value(), 3.0)

    def test_samples_cover_the_table(self) -> None:
        """
        The samples below name every row (add one with a new field).
        """
        self.assertEqual(set(SAMPLES), {f.name for f in FIELDS})
        self.assertEqual(set(BAD), {f.name for f in FIELDS if f.switch is None})


class AgreementTests(unittest.SynchronousTestCase):
    def test_flag_and_keyword_agree(self) -> None:
        """
        For every row, the flag and the keyword given the same value make
        the same setting, and it is the value meant.
        """
        for name, (args, text, view, expected) in SAMPLES.items():
            self.assertEqual(view(twistd(*args)), expected, name)
            if text is not None:
                self.assertEqual(view(endpoint(**{name: text})), expected, name)

    def test_defaults_agree(self) -> None:
        """
        Given nothing, both make the default L{Options} and settings.
        """
        from_twistd, from_endpoint = twistd(), endpoint()
        self.assertEqual(from_twistd.options, txsockjs.Options())
        self.assertEqual(from_endpoint.options, txsockjs.Options())
        self.assertEqual(from_twistd.shutdown_timeout, from_endpoint.shutdown_timeout)

    def test_bad_values_explained_alike(self) -> None:
        """
        A bad value is refused by both, which say the same about what was
        expected, each naming its flag or keyword and the value.
        """
        for name, bad in BAD.items():
            row = field(name)
            e = self.assertRaises(usage.UsageError, twistd, f"--{row.flag}={bad}")
            flag_message = str(e)
            self.assertTrue(flag_message.startswith(f"--{row.flag} {bad!r}: "), flag_message)
            self.assertNotIn("\n", flag_message)
            if row.keyword is None:
                continue
            e = self.assertRaises(ValueError, endpoint, **{name: bad})
            keyword_message = str(e)
            prefix = f"sockjs endpoint: {row.keyword}={bad!r}: "
            self.assertTrue(keyword_message.startswith(prefix), keyword_message)
            self.assertEqual(
                keyword_message[len(prefix) :], flag_message[len(f"--{row.flag} {bad!r}: ") :]
            )

    def test_switch_keyword_takes_yes_or_no(self) -> None:
        """
        A switch's keyword takes yes or no; anything else is refused.
        """
        self.assertTrue(endpoint(websocket="on").websocket)
        e = self.assertRaises(ValueError, endpoint, raw_websocket="perhaps")
        self.assertIn("raw_websocket='perhaps': expected yes or no", str(e))

    def test_websocket_factory_class_is_made(self) -> None:
        """
        A dotted name of a factory class gives an instance of it, not the
        class.
        """
        made = twistd("--websocket-factory=autobahn.twisted.websocket.WebSocketServerFactory")
        self.assertIsInstance(made.websocket_factory, WebSocketServerFactory)


class DocumentedTests(unittest.SynchronousTestCase):
    def readme(self) -> str:
        with open(os.path.join(ROOT, "README.rst"), encoding="utf-8") as f:
            return f.read()

    def test_readme_names_every_flag(self) -> None:
        """
        README.rst's C{twistd sockjs} section names every flag, and its
        Options table every field.
        """
        text = self.readme()
        section = text[text.index("Running with twistd\n") : text.index("Running more than one process\n")]
        for row in FIELDS:
            self.assertIn(f"``--{row.flag}", section, row.flag)
        options = text[text.index("\nOptions\n-------\n") :]
        for name in OPTION_NAMES:
            self.assertRegex(options, rf"\n``{name}``\s", name)

    def test_endpoint_docstring_names_every_keyword(self) -> None:
        """
        The C{sockjs:} endpoint's documentation names every keyword.
        """
        doc = endpoints.__doc__ or ""
        for row in FIELDS:
            if row.keyword is not None:
                self.assertRegex(doc, rf"C\{{{re.escape(row.keyword)}[}}=]", row.keyword)
