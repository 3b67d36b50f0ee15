"""
The HTTP side of the protocol where the socket is the point: chunked
streaming responses, HTTP/1.0 (no chunking, the connection closes after a
streaming response) and keep-alive, read byte for byte from a real TCP
connection to a real listening port on 127.0.0.1.
"""

from __future__ import annotations

from twisted.internet import defer
from twisted.trial import unittest

from ._helpers import ServerMixin, SessionRequestsMixin

PRELUDE = b"h" * 2048 + b"\n"


class _Base(SessionRequestsMixin, ServerMixin, unittest.TestCase):
    timeout = 30


class XhrStreamingTests(_Base):
    @defer.inlineCallbacks
    def test_http_11_chunks(self):
        base = self.session()
        client = yield self.stream(base + "/xhr_streaming", close=False)
        yield client.wait_body(PRELUDE + b"o\n")
        response = client.response()
        self.assertEqual(response.version, b"HTTP/1.1")
        self.assertEqual(response.header("transfer-encoding"), "chunked")
        # each write is a chunk of its own
        yield self.send(base, ["one"])
        yield client.wait_body(b'a["one"]\n')
        self.assertIn(b'a["one"]\n', client.response().chunks)
        # a frame past the limit ends the response with the last chunk;
        # the connection may stay open (keep-alive)
        yield self.send(base, ["y" * 5000])
        response = yield client.wait_finished()
        self.assertTrue(response.finished)
        self.assertTrue(client.data.endswith(b"0\r\n\r\n"))

    @defer.inlineCallbacks
    def test_http_10(self):
        base = self.session()
        client = yield self.stream(
            base + "/xhr_streaming",
            version="HTTP/1.0",
            headers={"Connection": "keep-alive"},
            close=False,
        )
        yield client.wait_body(PRELUDE + b"o\n")
        response = client.response()
        self.assertEqual(response.code, 200)
        self.assertFalse(response.chunked)
        self.assertIsNone(response.header("transfer-encoding"))
        self.assertIsNone(response.header("content-length"))
        self.assertEqual(response.raw_body, PRELUDE + b"o\n")
        yield self.send(base, ["x" * 5000])
        response = yield client.wait_closed()
        self.assertEqual(
            response.raw_body, PRELUDE + b"o\n" + b'a["' + b"x" * 5000 + b'"]\n'
        )

    @defer.inlineCallbacks
    def test_http_10_polling(self):
        base = self.session()
        client = yield self.raw("POST", base + "/xhr", version="HTTP/1.0", close=False)
        response = yield client.wait_finished()
        self.assertEqual(response.code, 200)
        self.assertEqual(response.raw_body, b"o\n")
        self.assertFalse(response.chunked)


class Http10Tests(_Base):
    @defer.inlineCallbacks
    def check_closes(self, path, method, opened):
        base = self.session()
        client = yield self.raw(
            method, base + path, version="HTTP/1.0", headers={"Connection": "keep-alive"}, close=False
        )
        yield client.wait(lambda c: opened in c.data)
        response = client.response()
        self.assertFalse(response.chunked)
        self.assertIsNone(response.header("content-length"))
        yield self.send(base, ["x" * 4096])
        response = yield client.wait_closed()
        self.assertIn(b"x" * 4096, response.raw_body)

    def test_eventsource(self):
        return self.check_closes("/eventsource", "GET", b"data: o\r\n\r\n")

    def test_htmlfile(self):
        return self.check_closes("/htmlfile?c=cb", "GET", b'p("o");')

    @defer.inlineCallbacks
    def test_keep_alive_polling(self):
        # HTTP/1.1 keep-alive: two polls on one connection
        base = self.session()
        client = yield self.raw("POST", base + "/xhr", close=False)
        yield client.wait(lambda c: c.data.endswith(b"\r\n\r\no\n"))
        client.send(
            f"POST {base}/xhr HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
        )
        yield self.send(base, ["second"])
        yield client.wait(lambda c: c.data.endswith(b'\r\n\r\na["second"]\n'))
        self.assertEqual(client.data.count(b"HTTP/1.1 200"), 2)
