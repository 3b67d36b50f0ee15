"""
L{txsockjs.RequestInfo}: what a session keeps of its first request.
"""

from __future__ import annotations

import gc
from dataclasses import FrozenInstanceError

import twisted

from twisted.internet.address import IPv4Address
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http_headers import Headers
from twisted.web.server import Request
from twisted.web.test.requesthelper import DummyChannel

from txsockjs import RequestInfo

_PEER = IPv4Address("TCP", "127.0.0.1", 40000)


def _request() -> Request:
    request = Request(DummyChannel(), False)
    request.method = b"GET"
    request.uri = b"/echo/000/abc/websocket?x=1"
    request.path = b"/echo/000/abc/websocket"
    request.requestHeaders.addRawHeader(b"Host", b"example.org")
    request.requestHeaders.addRawHeader(b"x-forwarded-for", b"10.0.0.1")
    request.requestHeaders.addRawHeader(b"X-Forwarded-For", b"10.0.0.2")
    request.received_cookies = {b"JSESSIONID": b"dummy"}
    return request


class RequestInfoTests(SynchronousTestCase):
    def test_from_request(self) -> None:
        info = RequestInfo.from_request(_request())
        self.assertEqual(
            (info.method, info.uri, info.path, info.cookies, info.is_secure),
            (b"GET", b"/echo/000/abc/websocket?x=1", b"/echo/000/abc/websocket",
             {b"JSESSIONID": b"dummy"}, False),
        )
        self.assertIsInstance(info.headers, Headers)
        # (read from Headers._rawHeaders, a Twisted internal: txsockjs._internals)
        moved = f"Twisted internal 'Headers._rawHeaders' moved or changed (Twisted {twisted.__version__})"
        self.assertEqual(info.headers.getRawHeaders(b"host"), [b"example.org"], moved)
        self.assertEqual(
            info.headers.getRawHeaders(b"X-FORWARDED-FOR"), [b"10.0.0.1", b"10.0.0.2"], moved
        )
        self.assertIs(info.headers, info.headers)

    def test_a_copy(self) -> None:
        """
        What the request's headers become later is not the session's.
        """
        request = _request()
        info = RequestInfo.from_request(request)
        request.requestHeaders.setRawHeaders(b"host", [b"changed.example"])
        self.assertEqual(info.headers.getRawHeaders(b"host"), [b"example.org"])

    def test_frozen_and_equal(self) -> None:
        one = RequestInfo(b"GET", b"/", b"/", Headers({b"a": [b"1"]}), _PEER, _PEER, {}, False)
        same = RequestInfo(b"GET", b"/", b"/", Headers({b"A": [b"1"]}), _PEER, _PEER, {}, False)
        other = RequestInfo(b"GET", b"/", b"/", Headers({b"a": [b"2"]}), _PEER, _PEER, {}, False)
        self.assertEqual(one, same)
        self.assertNotEqual(one, other)
        with self.assertRaises(FrozenInstanceError):
            one.method = b"POST"  # type: ignore[misc]
        self.assertIn("method=b'GET'", repr(one))
        self.assertIn("headers=Headers(", repr(one))

    def test_headers_cost_the_collector_nothing(self) -> None:
        """
        After collections, the headers a session keeps are tuples of bytes the
        cyclic garbage collector no longer tracks (a dict and a list per
        header would be walked at every full collection, for every session).
        """
        info = RequestInfo.from_request(_request())
        gc.collect()
        tracked = [o for o in gc.get_referents(info) if gc.is_tracked(o) and not isinstance(o, type)]
        self.assertEqual(sorted(type(o).__name__ for o in tracked), ["IPv4Address", "IPv4Address"])
