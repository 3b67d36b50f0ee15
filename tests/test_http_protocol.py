"""
Conformance of the HTTP side of the SockJS protocol: the test endpoints of
examples/test_server.py served in memory by L{txsockjs.testing} (real
twisted.web requests, the bytes a socket would carry), with every timer on a
L{Clock}. What needs a real socket is in test_http_wire.py.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import quote

from twisted.internet import defer
from twisted.trial import unittest

from txsockjs import Options

from ._helpers import MemoryServerMixin, SessionRequestsMixin, new_id

NO_CACHE = "no-store, no-cache, no-transform, must-revalidate, max-age=0"
YEAR = "31536000"
JS = "application/javascript; charset=UTF-8"
PLAIN = "text/plain; charset=UTF-8"
HTML = "text/html; charset=UTF-8"
PRELUDE = b"h" * 2048 + b"\n"
GO_AWAY = b'c[3000,"Go away!"]'
ANOTHER = b'c[2010,"Another connection still open"]'
INTERRUPTED = b'c[1002,"Connection interrupted"]'


def header(response, name):
    return response.header(name)


class _Base(SessionRequestsMixin, MemoryServerMixin, unittest.TestCase):
    # nothing waits in memory: a test that blocks has failed
    timeout = 5

    def assertNoCache(self, response):
        self.assertEqual(header(response, "cache-control"), NO_CACHE)
        self.assertIsNone(header(response, "expires"))
        self.assertIsNone(header(response, "last-modified"))

    def assertCached(self, response):
        self.assertEqual(header(response, "cache-control"), f"public, max-age={YEAR}")
        expires = parsedate_to_datetime(header(response, "expires"))
        ahead = (expires - datetime.now(timezone.utc)).total_seconds()
        self.assertTrue(364 * 86400 < ahead <= 366 * 86400, header(response, "expires"))
        self.assertIsNone(header(response, "last-modified"))

    def assertCors(self, response, origin=None):
        if origin is None:
            self.assertEqual(header(response, "access-control-allow-origin"), "*")
        else:
            self.assertEqual(header(response, "access-control-allow-origin"), origin)
            self.assertEqual(header(response, "access-control-allow-credentials"), "true")


# ---------------------------------------------------------------------------


class GreetingTests(_Base):
    @defer.inlineCallbacks
    def test_greeting(self):
        for path in ("/echo", "/echo/", "/close/", "/amplify"):
            r = yield self.http("GET", path)
            self.assertEqual(r.code, 200, path)
            self.assertEqual(header(r, "content-type"), PLAIN)
            self.assertEqual(r.body, b"Welcome to SockJS!\n")
            self.assertIsNone(header(r, "set-cookie"))

    @defer.inlineCallbacks
    def test_not_found(self):
        for path in (
            "/echo/a",
            "/echo/a.html",
            "/echo/a/a",
            "/echo/a/a/",
            "/echo/a/a/a",
            "/echo/a/a/a/",
            "/echo/a/a/a/a",
            "/echo/a/a/xhr/",
            "/echo/a/a/nonsense",
            "/nonexistent",
            "/nonexistent/",
        ):
            r = yield self.http("GET", path)
            self.assertEqual(r.code, 404, path)


class IframeTests(_Base):
    @defer.inlineCallbacks
    def test_iframe_names(self):
        for path in (
            "/echo/iframe.html",
            "/echo/iframe-a.html",
            "/echo/iframe-.html",
            "/echo/iframe-0.1.2.html",
            "/echo/iframe-0.1.2abc-dirty.2144.html",
            "/echo/iframe.html?t=1234",
            "/echo/iframe-a.html?t=1234&x=y",
        ):
            r = yield self.http("GET", path)
            self.assertEqual(r.code, 200, path)
            self.assertEqual(header(r, "content-type"), HTML)
            self.assertCached(r)
            self.assertIsNotNone(header(r, "etag"))
            self.assertIsNone(header(r, "set-cookie"))
            page = r.body.decode()
            url = Options().sockjs_url
            self.assertIn(f'<script src="{url}"></script>', page)
            self.assertIn("SockJS.bootstrap_iframe();", page)
            self.assertLess(page.index(url), page.index("SockJS.bootstrap_iframe();"))

    @defer.inlineCallbacks
    def test_sockjs_url_escaped(self):
        from txsockjs import SockJSResource

        url = 'http://x/s.js?a=1&b="><script>alert(1)</script>'
        echo = self.resource("echo")
        self.root.putChild(b"custom", SockJSResource(echo.factory, Options(sockjs_url=url), self.clock))
        r = yield self.http("GET", "/custom/iframe.html")
        self.assertEqual(r.code, 200)
        self.assertNotIn(b"alert(1)</script>", r.body)
        self.assertIn(b"http://x/s.js?a=1&amp;b=&quot;&gt;&lt;script&gt;", r.body)
        r2 = yield self.http("GET", "/echo/iframe.html")
        self.assertNotEqual(header(r, "etag"), header(r2, "etag"))

    @defer.inlineCallbacks
    def test_iframe_bad_names(self):
        for path in (
            "/echo/iframe.htm",
            "/echo/iframe",
            "/echo/IFRAME.HTML",
            "/echo/IFRAME",
            "/echo/iframe.HTML",
            "/echo/iframe.xml",
            "/echo/iframe-/.html",
        ):
            r = yield self.http("GET", path)
            self.assertEqual(r.code, 404, path)

    @defer.inlineCallbacks
    def test_etag_and_304(self):
        r1 = yield self.http("GET", "/echo/iframe.html")
        r2 = yield self.http("GET", "/echo/iframe.html")
        etag = header(r1, "etag")
        self.assertEqual(etag, header(r2, "etag"))
        self.assertEqual(r1.body, r2.body)
        r3 = yield self.http("GET", "/echo/iframe.html", headers={"If-None-Match": etag})
        self.assertEqual(r3.code, 304)
        self.assertEqual(r3.body, b"")
        self.assertIsNone(header(r3, "content-type"))
        # on the wire too: no Content-Type at all
        raw = yield self.exchange("GET", "/echo/iframe.html", headers={"If-None-Match": etag})
        self.assertEqual(raw.code, 304)
        self.assertIsNone(raw.header("content-type"))
        r4 = yield self.http("GET", "/echo/iframe.html", headers={"If-None-Match": '"nope"'})
        self.assertEqual(r4.code, 200)


class InfoTests(_Base):
    @defer.inlineCallbacks
    def test_info(self):
        r = yield self.http("GET", "/echo/info")
        self.assertEqual(r.code, 200)
        self.assertEqual(header(r, "content-type"), "application/json; charset=UTF-8")
        self.assertNoCache(r)
        self.assertCors(r)
        self.assertIsNone(header(r, "set-cookie"))
        data = json.loads(r.body)
        self.assertEqual(set(data), {"websocket", "cookie_needed", "origins", "entropy"})
        self.assertIs(data["websocket"], True)
        self.assertIs(data["cookie_needed"], False)
        self.assertEqual(data["origins"], ["*:*"])
        self.assertIsInstance(data["entropy"], int)
        self.assertTrue(0 <= data["entropy"] < 2**32)

    @defer.inlineCallbacks
    def test_entropy_fresh(self):
        seen = set()
        for _ in range(10):
            r = yield self.http("GET", "/echo/info")
            seen.add(json.loads(r.body)["entropy"])
        self.assertGreater(len(seen), 5)

    @defer.inlineCallbacks
    def test_info_flags(self):
        r = yield self.http("GET", "/disabled_websocket_echo/info")
        self.assertIs(json.loads(r.body)["websocket"], False)
        r = yield self.http("GET", "/cookie_needed_echo/info")
        self.assertIs(json.loads(r.body)["cookie_needed"], True)
        self.assertIsNone(header(r, "set-cookie"))

    @defer.inlineCallbacks
    def test_info_cors(self):
        for origin in ("http://example.com", "null", "https://a.b:8443"):
            r = yield self.http(
                "GET",
                "/echo/info",
                headers={"Origin": origin, "Access-Control-Request-Headers": "a, b, c"},
            )
            self.assertCors(r, origin)
            self.assertEqual(header(r, "access-control-allow-headers"), "a, b, c")
        r = yield self.http("GET", "/echo/info")
        self.assertIsNone(header(r, "access-control-allow-headers"))
        self.assertIsNone(header(r, "access-control-allow-credentials"))

    @defer.inlineCallbacks
    def test_info_options(self):
        r = yield self.http(
            "OPTIONS",
            "/echo/info",
            headers={
                "Origin": "http://example.com",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "X-Custom",
            },
        )
        self.assertIn(r.code, (200, 204))
        self.assertEqual(r.body, b"")
        self.assertCached(r)
        self.assertCors(r, "http://example.com")
        self.assertEqual(header(r, "access-control-allow-methods"), "OPTIONS, GET")
        self.assertEqual(header(r, "access-control-max-age"), YEAR)
        self.assertEqual(header(r, "access-control-allow-headers"), "X-Custom")
        self.assertIsNone(header(r, "set-cookie"))
        r = yield self.http("OPTIONS", "/cookie_needed_echo/info")
        self.assertIsNone(header(r, "set-cookie"))


class SessionURLTests(_Base):
    @defer.inlineCallbacks
    def test_any_ids(self):
        for server, session in (("a", "a"), ("_", "_"), ("1", "-"), ("abc-123", "x_y-z")):
            r = yield self.http("POST", f"/echo/{server}/{session}{new_id()}/xhr")
            self.assertEqual((r.code, r.body), (200, b"o\n"))

    @defer.inlineCallbacks
    def test_server_id_ignored(self):
        sid = new_id()
        r = yield self.http("POST", f"/echo/a/{sid}/xhr")
        self.assertEqual(r.body, b"o\n")
        r = yield self.http("POST", f"/echo/b/{sid}/xhr_send", body=b'["x"]')
        self.assertEqual(r.code, 204)
        r = yield self.http("POST", f"/echo/c/{sid}/xhr")
        self.assertEqual(r.body, b'a["x"]\n')

    @defer.inlineCallbacks
    def test_bad_ids(self):
        for server, session in (("", "a"), ("a", ""), ("a.b", "c"), ("a", "b.c"), (".", ".")):
            for transport in ("xhr", "xhr_send", "xhr_streaming"):
                r = yield self.http(
                    "POST", f"/echo/{server}/{session}/{transport}", body=b'["x"]'
                )
                self.assertEqual(r.code, 404, (server, session, transport))
            for transport in ("eventsource", "htmlfile?c=x", "jsonp?c=x"):
                r = yield self.http("GET", f"/echo/{server}/{session}/{transport}")
                self.assertEqual(r.code, 404, (server, session, transport))

    @defer.inlineCallbacks
    def test_send_to_unknown_session(self):
        base = self.session()
        r = yield self.http("POST", base + "/xhr_send", body=b'["x"]')
        self.assertEqual(r.code, 404)
        r = yield self.http(
            "POST",
            base + "/jsonp_send",
            body=b"d=%5B%22x%22%5D",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        self.assertEqual(r.code, 404)
        # and no session was made by the attempt
        r = yield self.http("POST", base + "/xhr")
        self.assertEqual(r.body, b"o\n")

    @defer.inlineCallbacks
    def test_wrong_methods(self):
        base = yield self.open_xhr()
        for method, transport in (
            ("GET", "xhr"),
            ("GET", "xhr_send"),
            ("GET", "xhr_streaming"),
            ("POST", "eventsource"),
            ("POST", "htmlfile?c=x"),
            ("PUT", "xhr_send"),
            ("DELETE", "xhr"),
        ):
            r = yield self.http(method, f"{base}/{transport}")
            self.assertIn(r.code, (404, 405), (method, transport))
        # the session is unharmed
        r = yield self.send(base, ["still"])
        self.assertEqual(r.code, 204)
        body = yield self.poll(base)
        self.assertEqual(body, b'a["still"]\n')


class XhrTests(_Base):
    @defer.inlineCallbacks
    def test_polling(self):
        base = self.session()
        r = yield self.http("POST", base + "/xhr")
        self.assertEqual(r.code, 200)
        self.assertEqual(r.body, b"o\n")
        self.assertEqual(header(r, "content-type"), JS)
        self.assertNoCache(r)
        self.assertCors(r)
        self.assertIsNone(header(r, "set-cookie"))

        r = yield self.send(base, ["a"])
        self.assertEqual(r.code, 204)
        self.assertEqual(r.body, b"")
        self.assertEqual(header(r, "content-type"), PLAIN)
        self.assertNoCache(r)
        self.assertCors(r)

        body = yield self.poll(base)
        self.assertEqual(body, b'a["a"]\n')

    @defer.inlineCallbacks
    def test_order_and_empty_array(self):
        base = yield self.open_xhr()
        for batch in (["a", "b"], [], ["c"], ["d", "e", "f"]):
            r = yield self.send(base, batch)
            self.assertEqual(r.code, 204)
        body = yield self.poll(base)
        self.assertEqual(body, b'a["a","b","c","d","e","f"]\n')

    @defer.inlineCallbacks
    def test_queued_until_poll(self):
        base = yield self.open_xhr()
        poll = self.poll(base)  # waits: nothing queued yet
        self.advance(0.05)
        self.assertFalse(poll.called)
        yield self.send(base, ["late"])
        body = yield poll
        self.assertEqual(body, b'a["late"]\n')

    @defer.inlineCallbacks
    def test_bad_payloads(self):
        base = yield self.open_xhr()
        r = yield self.http("POST", base + "/xhr_send")
        self.assertEqual((r.code, r.body), (500, b"Payload expected."))
        for body in (b'["x', b"[", b"x", b'{"a":1}', b"[1]", b'["a",1]', b'"x"', b"null", b"\xff\xfe"):
            r = yield self.http("POST", base + "/xhr_send", body=body)
            self.assertEqual((r.code, r.body), (500, b"Broken JSON encoding."), body)
        # none of it disturbed the session
        r = yield self.send(base, ["ok"])
        self.assertEqual(r.code, 204)
        body = yield self.poll(base)
        self.assertEqual(body, b'a["ok"]\n')

    @defer.inlineCallbacks
    def test_content_types(self):
        base = yield self.open_xhr()
        types = [
            "text/plain",
            "T",
            "application/json",
            "application/xml",
            "",
            "application/json; charset=utf-8",
            "text/xml",
            "text/plain;charset=UTF-8",
        ]
        for i, ctype in enumerate(types):
            headers = {"Content-Type": ctype} if ctype else {}
            r = yield self.http(
                "POST", base + "/xhr_send", body=json.dumps([str(i)]).encode(), headers=headers
            )
            self.assertEqual(r.code, 204, ctype)
        # and with no Content-Type header at all, on the wire
        raw = yield self.exchange("POST", base + "/xhr_send", body=b'["raw"]')
        self.assertEqual(raw.code, 204)
        body = yield self.poll(base)
        expected = [str(i) for i in range(len(types))] + ["raw"]
        self.assertEqual(body, b"a" + json.dumps(expected, separators=(",", ":")).encode() + b"\n")

    @defer.inlineCallbacks
    def test_second_poll_gets_2010(self):
        base = yield self.open_xhr()
        first = self.poll(base)
        self.advance(0.05)
        second = yield self.http("POST", base + "/xhr")
        self.assertEqual((second.code, second.body), (200, ANOTHER + b"\n"))
        self.assertFalse(first.called)
        yield self.send(base, ["x"])
        body = yield first
        self.assertEqual(body, b'a["x"]\n')


class XhrStreamingTests(_Base):
    @defer.inlineCallbacks
    def test_prelude_and_frames(self):
        base = self.session()
        client = yield self.stream(base + "/xhr_streaming")
        yield client.wait_body(PRELUDE + b"o\n")
        response = client.response()
        self.assertEqual(response.code, 200)
        self.assertTrue(response.chunked)
        self.assertEqual(response.header("content-type"), JS)
        self.assertEqual(response.header("cache-control"), NO_CACHE)
        self.assertIsNone(response.header("content-length"))
        self.assertEqual(response.header("access-control-allow-origin"), "*")
        self.assertTrue(response.body.startswith(PRELUDE))
        yield self.send(base, ["a"])
        yield client.wait_body(PRELUDE + b'o\na["a"]\n')
        yield self.send(base, ["b", "c"])
        yield client.wait_body(PRELUDE + b'o\na["a"]\na["b","c"]\n')
        self.assertFalse(client.response().finished)

    @defer.inlineCallbacks
    def test_response_limit(self):
        base = self.session()
        client = yield self.stream(base + "/xhr_streaming", close=False)
        yield client.wait_body(PRELUDE + b"o\n")
        message = "x" * 128
        frame = b'a["' + message.encode() + b'"]\n'
        self.assertEqual(len(frame), 134)
        for i in range(31):
            self.assertFalse(client.response().finished, f"ended after {i} frames")
            r = yield self.send(base, [message])
            self.assertEqual(r.code, 204)
            yield client.wait_body(PRELUDE + b"o\n" + frame * (i + 1))
        response = yield client.wait_finished()
        self.assertEqual(response.body, PRELUDE + b"o\n" + frame * 31)
        # the session lives on: what is sent now comes on the next poll
        yield self.send(base, ["after"])
        body = yield self.poll(base)
        self.assertEqual(body, b'a["after"]\n')

    @defer.inlineCallbacks
    def test_2010(self):
        base = self.session()
        first = yield self.stream(base + "/xhr_streaming")
        yield first.wait_body(PRELUDE + b"o\n")
        second = yield self.stream(base + "/xhr_streaming")
        response = yield second.wait_finished()
        self.assertEqual(response.code, 200)
        self.assertEqual(response.body, PRELUDE + ANOTHER + b"\n")
        r = yield self.http("POST", base + "/xhr")
        self.assertEqual((r.code, r.body), (200, ANOTHER + b"\n"))
        # the first carries on
        yield self.send(base, ["x"])
        yield first.wait_body(PRELUDE + b'o\na["x"]\n')
        self.assertFalse(first.closed)

    @defer.inlineCallbacks
    def test_heartbeat_option_off_by_default(self):
        # 25 s by default: nothing but the open frame in a short while
        base = self.session()
        client = yield self.stream(base + "/xhr_streaming")
        yield client.wait_body(PRELUDE + b"o\n")
        self.advance(0.1)
        self.assertEqual(client.body(), PRELUDE + b"o\n")


class HeartbeatTests(_Base):
    base_options = Options(raw_websocket=True, heartbeat_delay=0.05)

    @defer.inlineCallbacks
    def test_heartbeats_on_streams(self):
        base = self.session()
        client = yield self.stream(base + "/xhr_streaming")
        self.advance(0.12)
        yield client.wait_body(PRELUDE + b"o\nh\nh\n")
        base2 = self.session()
        es = yield self.stream(base2 + "/eventsource", method="GET")
        self.advance(0.05)
        yield es.wait_body(b"\r\ndata: o\r\n\r\ndata: h\r\n\r\n")

    @defer.inlineCallbacks
    def test_heartbeat_on_poll(self):
        base = yield self.open_xhr()
        poll = self.poll(base)
        self.advance(0.05)
        body = yield poll
        self.assertEqual(body, b"h\n")


class DisconnectTests(_Base):
    base_options = Options(raw_websocket=True, disconnect_delay=0.1)

    @defer.inlineCallbacks
    def test_session_expires(self):
        base = yield self.open_xhr()
        deadline = 0
        while True:
            r = yield self.send(base, ["x"])
            if r.code == 404:
                break
            self.assertEqual(r.code, 204)
            deadline += 1
            self.assertLess(deadline, 100, "session never expired")
            self.advance(0.05)
        # a new session under the same id
        r = yield self.http("POST", base + "/xhr")
        self.assertEqual(r.body, b"o\n")


class EventSourceTests(_Base):
    @defer.inlineCallbacks
    def test_eventsource(self):
        base = self.session()
        client = yield self.stream(base + "/eventsource", method="GET")
        yield client.wait_body(b"\r\ndata: o\r\n\r\n")
        response = client.response()
        self.assertEqual(response.code, 200)
        self.assertEqual(response.header("content-type"), "text/event-stream")
        self.assertEqual(response.header("cache-control"), NO_CACHE)
        self.assertTrue(response.body.startswith(b"\r\n"))
        yield self.send(base, ["  \u0000\n\r "])
        yield client.wait_body(b'\r\ndata: o\r\n\r\ndata: a["  \\u0000\\n\\r "]\r\n\r\n')

    @defer.inlineCallbacks
    def test_response_limit(self):
        base = self.session()
        client = yield self.stream(base + "/eventsource", method="GET")
        yield client.wait_body(b"data: o\r\n\r\n")
        yield self.send(base, ["x" * 4096])
        response = yield client.wait_finished()
        self.assertTrue(response.body.endswith(b'"]\r\n\r\n'))


class HtmlFileTests(_Base):
    @defer.inlineCallbacks
    def test_callback_required(self):
        base = self.session()
        for query in ("", "?c=", "?callback=", "?x=y"):
            r = yield self.http("GET", base + "/htmlfile" + query)
            self.assertEqual((r.code, r.body), (500, b'"callback" parameter required'), query)

    @defer.inlineCallbacks
    def test_callback_invalid(self):
        base = self.session()
        for callback in ("%20", "*", "abc(", "a%3Cb", "x" * 33, "a%22b", "%D0%B9"):
            r = yield self.http("GET", base + "/htmlfile?c=" + callback)
            self.assertEqual((r.code, r.body), (500, b'invalid "callback" parameter'), callback)
        # nothing was opened by the refusals
        r = yield self.http("POST", base + "/xhr")
        self.assertEqual(r.body, b"o\n")

    @defer.inlineCallbacks
    def test_htmlfile(self):
        base = self.session()
        client = yield self.stream(base + "/htmlfile?c=%63allback", method="GET")
        first = b'<script>\np("o");\n</script>\r\n'
        yield client.wait_body(first)
        response = client.response()
        self.assertEqual(response.code, 200)
        self.assertEqual(response.header("content-type"), HTML)
        self.assertEqual(response.header("cache-control"), NO_CACHE)
        head = response.body[: response.body.index(first)]
        self.assertGreater(len(head), 1024)
        self.assertIn(b"var c = parent.callback;", head)
        yield self.send(base, ["x"])
        yield client.wait_body(first + b'<script>\np("a[\\"x\\"]");\n</script>\r\n')

    @defer.inlineCallbacks
    def test_callback_alias_and_charset(self):
        callback = "a.b_c-9" + "z" * 25
        self.assertEqual(len(callback), 32)
        base = self.session()
        client = yield self.stream(base + "/htmlfile?callback=" + callback, method="GET")
        yield client.wait_body(b'p("o");')
        self.assertIn(b"parent." + callback.encode() + b";", client.body())


class JsonpTests(_Base):
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    @defer.inlineCallbacks
    def test_callback_rules(self):
        base = self.session()
        r = yield self.http("GET", base + "/jsonp")
        self.assertEqual((r.code, r.body), (500, b'"callback" parameter required'))
        r = yield self.http("GET", base + "/jsonp?c=%28")
        self.assertEqual((r.code, r.body), (500, b'invalid "callback" parameter'))
        r = yield self.http("GET", base + "/jsonp?c=" + "x" * 33)
        self.assertEqual((r.code, r.body), (500, b'invalid "callback" parameter'))

    @defer.inlineCallbacks
    def test_jsonp_send_non_ascii_form(self):
        base = self.session()
        r = yield self.http("GET", base + "/jsonp?c=x")
        self.assertEqual(r.body, b'/**/x("o");\r\n')
        text = "\u00e9 \u4e2d \u2028 \ufeff \U0001F600 %41 +"
        r = yield self.http(
            "POST", base + "/jsonp_send",
            body=b"d=" + quote(json.dumps([text], ensure_ascii=False)).encode(),
            headers=self.form,
        )
        self.assertEqual((r.code, r.body), (200, b"ok"))
        r = yield self.http(
            "POST", base + "/jsonp_send", body=b"d=%5B%22%ff%22%5D", headers=self.form
        )
        self.assertEqual((r.code, r.body), (500, b"Broken JSON encoding."))
        r = yield self.http("GET", base + "/jsonp?c=x")
        m = re.fullmatch(rb'/\*\*/x\((".*")\);\r\n', r.body)
        self.assertEqual(json.loads(json.loads(m.group(1))[1:]), [text])

    @defer.inlineCallbacks
    def test_jsonp(self):
        base = self.session()
        r = yield self.http("GET", base + "/jsonp?c=%63allback")
        self.assertEqual(r.code, 200)
        self.assertEqual(header(r, "content-type"), JS)
        self.assertNoCache(r)
        self.assertEqual(r.body, b'/**/callback("o");\r\n')

        r = yield self.http("POST", base + "/jsonp_send", body=b"d=%5B%22x%22%5D", headers=self.form)
        self.assertEqual((r.code, r.body), (200, b"ok"))
        self.assertEqual(header(r, "content-type"), PLAIN)
        self.assertNoCache(r)
        r = yield self.http(
            "POST", base + "/jsonp_send", body=b'["y"]', headers={"Content-Type": "text/plain"}
        )
        self.assertEqual((r.code, r.body), (200, b"ok"))
        r = yield self.http(
            "POST",
            base + "/jsonp_send",
            body=b"x=1&d=" + quote('["z&=", "w"]').encode() + b"&y=2",
            headers=self.form,
        )
        self.assertEqual((r.code, r.body), (200, b"ok"))
        r = yield self.http("GET", base + "/jsonp?c=callback")
        m = re.fullmatch(rb'/\*\*/callback\((".*")\);\r\n', r.body)
        self.assertIsNotNone(m, r.body)
        self.assertEqual(json.loads(m.group(1)), 'a["x","y","z&=","w"]')

    @defer.inlineCallbacks
    def test_jsonp_send_errors(self):
        base = self.session()
        r = yield self.http("GET", base + "/jsonp?c=x")
        self.assertEqual(r.body, b'/**/x("o");\r\n')
        for body, headers in (
            (b"", self.form),
            (b"d=", self.form),
            (b"x=1", self.form),
            (b"", {"Content-Type": "text/plain"}),
            (b"", {}),
        ):
            r = yield self.http("POST", base + "/jsonp_send", body=body, headers=headers)
            self.assertEqual((r.code, r.body), (500, b"Payload expected."), (body, headers))
        for body, headers in (
            (b"d=%5B%22x", self.form),
            (b"d=%7B%7D", self.form),
            (b'["x', {"Content-Type": "text/plain"}),
            (b"[1]", {"Content-Type": "text/plain"}),
        ):
            r = yield self.http("POST", base + "/jsonp_send", body=body, headers=headers)
            self.assertEqual((r.code, r.body), (500, b"Broken JSON encoding."), (body, headers))
        r = yield self.http("POST", base + "/jsonp_send", body=b"d=%5B%22ok%22%5D", headers=self.form)
        self.assertEqual(r.body, b"ok")
        r = yield self.http("GET", base + "/jsonp?c=x")
        self.assertEqual(r.body, b'/**/x("a[\\"ok\\"]");\r\n')


class CorsTests(_Base):
    @defer.inlineCallbacks
    def test_origin_echo(self):
        for origin in ("http://example.com", "null", "https://x.y:1"):
            base = self.session()
            headers = {"Origin": origin}
            r = yield self.http("POST", base + "/xhr", headers=headers)
            self.assertCors(r, origin)
            self.assertIsNone(header(r, "access-control-allow-headers"))
            r = yield self.http("POST", base + "/xhr_send", body=b'["x"]', headers=headers)
            self.assertCors(r, origin)
            r = yield self.http("POST", base + "/xhr", headers=headers)
            self.assertEqual(r.body, b'a["x"]\n')
            client = yield self.stream(base + "/xhr_streaming", headers=headers)
            yield client.wait_body(PRELUDE)
            self.assertEqual(client.response().header("access-control-allow-origin"), origin)
            self.assertEqual(client.response().header("access-control-allow-credentials"), "true")
            client.abort()

    @defer.inlineCallbacks
    def test_request_headers_echo(self):
        base = self.session()
        r = yield self.http(
            "POST", base + "/xhr", headers={"Access-Control-Request-Headers": "a, b, c"}
        )
        self.assertEqual(header(r, "access-control-allow-headers"), "a, b, c")
        r = yield self.http("POST", base + "/xhr_send", body=b'["x"]', headers={"Access-Control-Request-Headers": ""})
        self.assertIsNone(header(r, "access-control-allow-headers"))
        self.assertCors(r)

    @defer.inlineCallbacks
    def test_preflights(self):
        base = self.session()
        for transport in ("xhr", "xhr_send", "xhr_streaming"):
            r = yield self.http(
                "OPTIONS",
                f"{base}/{transport}",
                headers={
                    "Origin": "null",
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "Content-Type",
                },
            )
            self.assertIn(r.code, (200, 204), transport)
            self.assertEqual(r.body, b"")
            self.assertCached(r)
            self.assertCors(r, "null")
            self.assertEqual(header(r, "access-control-allow-methods"), "OPTIONS, POST")
            self.assertEqual(header(r, "access-control-max-age"), YEAR)
            self.assertEqual(header(r, "access-control-allow-headers"), "Content-Type")
        # a preflight opens no session
        r = yield self.http("POST", base + "/xhr_send", body=b'["x"]')
        self.assertEqual(r.code, 404)
        for transport in ("eventsource", "htmlfile", "jsonp", "jsonp_send"):
            r = yield self.http("OPTIONS", f"{base}/{transport}")
            self.assertIn(r.code, (200, 204), transport)
            self.assertEqual(r.body, b"")
            self.assertIn("OPTIONS", header(r, "access-control-allow-methods"))


class CookieTests(_Base):
    def assertCookie(self, response, value):
        cookie = header(response, "set-cookie")
        self.assertIsNotNone(cookie)
        self.assertEqual(cookie.split(";")[:2], [f"JSESSIONID={value}", " path=/"])

    @defer.inlineCallbacks
    def test_dummy_cookie(self):
        base = self.session("cookie_needed_echo")
        r = yield self.http("POST", base + "/xhr")
        self.assertEqual(r.body, b"o\n")
        self.assertCookie(r, "dummy")
        r = yield self.http("POST", base + "/xhr_send", body=b'["x"]')
        self.assertCookie(r, "dummy")
        r = yield self.http("POST", base + "/xhr")
        self.assertEqual(r.body, b'a["x"]\n')
        self.assertCookie(r, "dummy")

    @defer.inlineCallbacks
    def test_echoed_cookie(self):
        cookie = {"Cookie": "JSESSIONID=abcdef"}
        base = self.session("cookie_needed_echo")
        r = yield self.http("POST", base + "/xhr", headers=cookie)
        self.assertCookie(r, "abcdef")
        r = yield self.http("POST", base + "/xhr_send", body=b'["x"]', headers=cookie)
        self.assertCookie(r, "abcdef")
        r = yield self.http("OPTIONS", base + "/xhr", headers=cookie)
        self.assertCookie(r, "abcdef")
        r = yield self.http(
            "POST",
            base + "/jsonp_send",
            body=b"d=%5B%22y%22%5D",
            headers={"Content-Type": "application/x-www-form-urlencoded", **cookie},
        )
        self.assertCookie(r, "abcdef")
        r = yield self.http("GET", base + "/jsonp?c=x", headers=cookie)
        self.assertCookie(r, "abcdef")
        for transport, method in (
            ("xhr_streaming", "POST"),
            ("eventsource", "GET"),
            ("htmlfile?c=x", "GET"),
        ):
            client = yield self.stream(f"{self.session('cookie_needed_echo')}/{transport}", method=method, headers=cookie)
            yield client.wait(lambda c: c.response() is not None)
            self.assertEqual(
                client.response().header("set-cookie").split(";")[:2],
                ["JSESSIONID=abcdef", " path=/"],
            )
            client.abort()

    @defer.inlineCallbacks
    def test_no_cookie_elsewhere(self):
        for path in ("/cookie_needed_echo", "/cookie_needed_echo/info", "/cookie_needed_echo/iframe.html"):
            r = yield self.http("GET", path)
            self.assertEqual(r.code, 200)
            self.assertIsNone(header(r, "set-cookie"), path)
        r = yield self.http("POST", self.session() + "/xhr")
        self.assertIsNone(header(r, "set-cookie"))


class CloseTests(_Base):
    @defer.inlineCallbacks
    def test_xhr(self):
        base = self.session("close")
        r = yield self.http("POST", base + "/xhr")
        self.assertEqual(r.body, b"o\n")
        for _ in range(3):
            r = yield self.http("POST", base + "/xhr")
            self.assertEqual((r.code, r.body), (200, GO_AWAY + b"\n"))

    @defer.inlineCallbacks
    def test_xhr_streaming(self):
        base = self.session("close")
        client = yield self.stream(base + "/xhr_streaming")
        response = yield client.wait_finished()
        self.assertEqual(response.body, PRELUDE + b"o\n" + GO_AWAY + b"\n")
        for _ in range(2):
            client = yield self.stream(base + "/xhr_streaming")
            response = yield client.wait_finished()
            self.assertEqual(response.body, PRELUDE + GO_AWAY + b"\n")

    @defer.inlineCallbacks
    def test_eventsource(self):
        base = self.session("close")
        client = yield self.stream(base + "/eventsource", method="GET")
        response = yield client.wait_finished()
        self.assertEqual(
            response.body, b"\r\ndata: o\r\n\r\ndata: " + GO_AWAY + b"\r\n\r\n"
        )
        client = yield self.stream(base + "/eventsource", method="GET")
        response = yield client.wait_finished()
        self.assertEqual(response.body, b"\r\ndata: " + GO_AWAY + b"\r\n\r\n")

    @defer.inlineCallbacks
    def test_htmlfile(self):
        base = self.session("close")
        client = yield self.stream(base + "/htmlfile?c=cb", method="GET")
        response = yield client.wait_finished()
        self.assertTrue(
            response.body.endswith(
                b'<script>\np("o");\n</script>\r\n'
                b'<script>\np("c[3000,\\"Go away!\\"]");\n</script>\r\n'
            ),
            response.body[-200:],
        )
        client = yield self.stream(base + "/htmlfile?c=cb", method="GET")
        response = yield client.wait_finished()
        self.assertTrue(
            response.body.endswith(b'\r\n<script>\np("c[3000,\\"Go away!\\"]");\n</script>\r\n')
        )
        self.assertNotIn(b'p("o")', response.body)

    @defer.inlineCallbacks
    def test_jsonp(self):
        base = self.session("close")
        r = yield self.http("GET", base + "/jsonp?c=cb")
        self.assertEqual(r.body, b'/**/cb("o");\r\n')
        for _ in range(2):
            r = yield self.http("GET", base + "/jsonp?c=cb")
            self.assertEqual(r.body, b'/**/cb("c[3000,\\"Go away!\\"]");\r\n')

    @defer.inlineCallbacks
    def test_mixed_transports(self):
        base = self.session("close")
        r = yield self.http("POST", base + "/xhr")
        self.assertEqual(r.body, b"o\n")
        r = yield self.http("GET", base + "/jsonp?c=cb")
        self.assertEqual(r.body, b'/**/cb("c[3000,\\"Go away!\\"]");\r\n')
        r = yield self.http("POST", base + "/xhr")
        self.assertEqual(r.body, GO_AWAY + b"\n")
        r = yield self.http("POST", base + "/xhr_send", body=b'["x"]')
        self.assertIn(r.code, (204, 404))


class AbortTests(_Base):
    """
    A client that drops its receiving request: the next request is answered
    at once, with a fresh session or the interrupted frame.
    """

    @defer.inlineCallbacks
    def check_after_abort(self, base, path, method, opened):
        client = yield self.stream(base + path, method=method)
        yield client.wait_body(opened)
        client.abort()
        yield client.lost
        self.advance(0.02)
        for _ in range(2):
            r = yield self.http("POST", base + "/xhr")
            self.assertIn(r.body, (b"o\n", INTERRUPTED + b"\n"))

    def test_xhr_streaming(self):
        return self.check_after_abort(self.session(), "/xhr_streaming", "POST", PRELUDE + b"o\n")

    def test_eventsource(self):
        return self.check_after_abort(self.session(), "/eventsource", "GET", b"data: o\r\n\r\n")

    def test_htmlfile(self):
        return self.check_after_abort(self.session(), "/htmlfile?c=x", "GET", b'p("o");')

    @defer.inlineCallbacks
    def test_xhr_polling(self):
        base = yield self.open_xhr()
        client = yield self.raw("POST", base + "/xhr")
        self.advance(0.05)
        self.assertIsNone(client.response())
        client.abort()
        yield client.lost
        self.advance(0.02)
        r = yield self.http("POST", base + "/xhr")
        self.assertIn(r.body, (b"o\n", INTERRUPTED + b"\n"))

    @defer.inlineCallbacks
    def test_jsonp_polling(self):
        base = self.session()
        r = yield self.http("GET", base + "/jsonp?c=x")
        self.assertEqual(r.body, b'/**/x("o");\r\n')
        client = yield self.raw("GET", base + "/jsonp?c=x")
        self.advance(0.05)
        client.abort()
        yield client.lost
        self.advance(0.02)
        r = yield self.http("GET", base + "/jsonp?c=x")
        self.assertIn(r.body, (b'/**/x("o");\r\n', b'/**/x("c[1002,\\"Connection interrupted\\"]");\r\n'))


# characters the client cannot take raw: each must arrive as a lower-case
# \uXXXX escape inside the frame
MUST_ESCAPE = (
    [chr(c) for c in (0x00, 0x01, 0x1F, 0x7F, 0x9F)]
    + ["\u2028", "\u2029", "\u200c", "\u200d", "\u200e", "\u200f"]
    + [chr(c) for c in range(0x2060, 0x2070)]
    + [chr(c) for c in range(0xFFF0, 0x10000)]
    + ["\ud800", "\udbff", "\udc00", "\udfff", "\ufeff", "\u0600", "\u0604", "\u070f", "\u17b4", "\u17b5"]
)


class EscapingTests(_Base):
    @defer.inlineCallbacks
    def test_unicode_escaped_in_frames(self):
        base = yield self.open_xhr()
        payload = json.dumps(MUST_ESCAPE, ensure_ascii=True).encode()
        r = yield self.http("POST", base + "/xhr_send", body=payload)
        self.assertEqual(r.code, 204)
        body = yield self.poll(base)
        self.assertTrue(body.startswith(b"a[") and body.endswith(b"\n"))
        text = body.decode("ascii")  # every one of them escaped: pure ASCII
        for char in MUST_ESCAPE:
            self.assertIn("\\u%04x" % ord(char), text)
        self.assertEqual(re.findall(r"\\u(?=[0-9A-F]*[A-F])[0-9A-F]{4}", text), [])
        self.assertEqual(json.loads(text[1:]), MUST_ESCAPE)

    @defer.inlineCallbacks
    def test_plain_unicode_round_trip(self):
        base = yield self.open_xhr()
        messages = ["żółć", "日本語", "\U0001f600", "\u00e9\u00e8", "a\"b\\c/d"]
        r = yield self.http("POST", base + "/xhr_send", body=json.dumps(messages, ensure_ascii=False).encode())
        self.assertEqual(r.code, 204)
        body = yield self.poll(base)
        self.assertEqual(json.loads(body[1:].decode("utf-8")), messages)

    @defer.inlineCallbacks
    def test_escaped_on_streams(self):
        base = self.session()
        client = yield self.stream(base + "/eventsource", method="GET")
        yield client.wait_body(b"data: o\r\n\r\n")
        yield self.send(base, ["\u2028\u2029\ud800"])
        yield client.wait_body(b'data: a["\\u2028\\u2029\\ud800"]\r\n\r\n')

    @defer.inlineCallbacks
    def test_html_breakout(self):
        nasty = ["</script>", "<!--", "]]>", "<script>alert(1)</script>", "\u2028", "&amp;"]
        payload = json.dumps(nasty).encode()
        # htmlfile
        base = self.session()
        client = yield self.stream(base + "/htmlfile?c=cb", method="GET")
        yield client.wait_body(b'p("o");')
        yield self.send(base, nasty)
        yield client.wait(lambda c: c.body().count(b"<script>\np(") == 2)
        body = client.body()
        args = re.findall(rb"<script>\np\((.*?)\);\n</script>\r\n", body)
        self.assertEqual(len(args), 2)
        for arg in args:
            for bad in (b"<", b">", b"&", "\u2028".encode()):
                self.assertNotIn(bad, arg)
        self.assertEqual(json.loads(json.loads(args[1])[1:]), nasty)
        self.assertEqual(body.count(b"</script>"), body.count(b"<script>"))
        self.assertNotIn(b"<!--", body)
        self.assertNotIn(b"]]>", body)
        # jsonp
        base = self.session()
        r = yield self.http("GET", base + "/jsonp?c=cb")
        r = yield self.http("POST", base + "/xhr_send", body=payload)
        self.assertEqual(r.code, 204)
        r = yield self.http("GET", base + "/jsonp?c=cb")
        for bad in (b"</script>", b"<!--", b"]]>", b"<", b">"):
            self.assertNotIn(bad, r.body)
        m = re.fullmatch(rb'/\*\*/cb\((".*")\);\r\n', r.body)
        self.assertIsNotNone(m)
        self.assertEqual(json.loads(json.loads(m.group(1))[1:]), nasty)
        # xhr carries them raw: JSON is enough there
        base = yield self.open_xhr()
        yield self.send(base, nasty)
        body = yield self.poll(base)
        self.assertEqual(json.loads(body[1:]), nasty)


class IsolationTests(_Base):
    @defer.inlineCallbacks
    def test_bad_inputs_do_not_disturb_other_sessions(self):
        base = self.session()
        watcher = yield self.stream(base + "/xhr_streaming")
        yield watcher.wait_body(PRELUDE + b"o\n")
        victim = yield self.open_xhr()
        # a burst of nonsense
        yield self.http("POST", victim + "/xhr_send", body=b"")
        yield self.http("POST", victim + "/xhr_send", body=b'["x')
        yield self.http("POST", victim + "/xhr_send", body=b"\xff" * 100)
        yield self.http("GET", victim + "/htmlfile")
        yield self.http("GET", victim + "/jsonp?c=%3C")
        yield self.http("POST", self.session() + "/xhr_send", body=b'["x"]')
        yield self.http("POST", "/echo/a.b/c/xhr")
        yield self.http("GET", victim + "/websocket")
        yield self.http("POST", victim + "/websocket")
        yield self.http("PUT", victim + "/xhr")
        raw = yield self.raw("POST", victim + "/xhr_send", headers={"Content-Length": "10"}, body=b"[")
        raw.abort()
        garbage = yield self.connect()
        garbage.send(b"\x00\x01\x02 NOT HTTP\r\n\r\n")
        yield garbage.wait_closed()
        # everyone is fine
        yield self.send(base, ["still here"])
        yield watcher.wait_body(PRELUDE + b'o\na["still here"]\n')
        yield self.send(victim, ["me too"])
        body = yield self.poll(victim)
        self.assertEqual(body, b'a["me too"]\n')

    @defer.inlineCallbacks
    def test_many_sessions_concurrently(self):
        bases = [self.session() for _ in range(10)]
        clients = []
        for base in bases:
            client = yield self.stream(base + "/xhr_streaming")
            clients.append(client)
        for client in clients:
            yield client.wait_body(PRELUDE + b"o\n")
        yield defer.gatherResults([self.send(b, [b]) for b in bases])
        for base, client in zip(bases, clients):
            yield client.wait_body(PRELUDE + b'o\na["' + base.encode() + b'"]\n')
            self.assertNotIn(b"/echo/000/", client.body().replace(base.encode(), b""))


class AmplifyBroadcastTests(_Base):
    @defer.inlineCallbacks
    def test_amplify(self):
        base = yield self.open_xhr("amplify")
        yield self.send(base, ["4"])
        body = yield self.poll(base)
        self.assertEqual(body, b'a["' + b"x" * 16 + b'"]\n')
        yield self.send(base, ["0"])
        body = yield self.poll(base)
        self.assertEqual(body, b'a["xx"]\n')

    @defer.inlineCallbacks
    def test_broadcast(self):
        a = yield self.open_xhr("broadcast")
        b = yield self.open_xhr("broadcast")
        yield self.send(a, ["hello"])
        body_a = yield self.poll(a)
        body_b = yield self.poll(b)
        self.assertEqual(body_a, b'a["hello"]\n')
        self.assertEqual(body_b, b'a["hello"]\n')


class LeakTests(_Base):
    base_options = Options(raw_websocket=True, disconnect_delay=0.1)

    def wait_all_gone(self, names=("echo", "close")):
        resources = [self.resource(n) for n in names]
        for _ in range(300):
            left = sum(len(r.sessions) + len(r.websocket_sessions) for r in resources)
            if left == 0 and not self.clock.getDelayedCalls():
                return
            self.advance(0.01)
        self.fail(f"sessions or timers left behind: {left}, {self.clock.getDelayedCalls()}")

    @defer.inlineCallbacks
    def test_nothing_left_behind(self):
        # an open session nobody polls, an aborted stream, a closed session,
        # an expired one that was sent to after: all forgotten, no timer left
        yield self.open_xhr()
        base = self.session()
        client = yield self.stream(base + "/xhr_streaming")
        yield client.wait_body(PRELUDE + b"o\n")
        client.abort()
        r = yield self.http("POST", self.session("close") + "/xhr")
        self.assertEqual(r.body, b"o\n")
        es = yield self.stream(self.session() + "/eventsource", method="GET")
        yield es.wait_body(b"data: o")
        yield self.send(base, ["x"])
        es.abort()
        self.wait_all_gone()

    @defer.inlineCallbacks
    def test_refusals_make_no_sessions(self):
        echo = self.resource("echo")
        base = self.session()
        yield self.http("POST", base + "/xhr_send", body=b'["x"]')
        yield self.http("POST", base + "/jsonp_send", body=b'["x"]')
        yield self.http("GET", base + "/htmlfile")
        yield self.http("GET", base + "/jsonp?c=%3C")
        yield self.http("OPTIONS", base + "/xhr")
        yield self.http("GET", base + "/websocket")
        yield self.http("POST", base + "/websocket")
        yield self.http("GET", base + "/xhr")
        self.assertEqual(len(echo.sessions), 0)
        self.assertEqual(len(echo.websocket_sessions), 0)


class OriginTests(_Base):
    def setUp(self):
        super().setUp()
        from txsockjs import SockJSResource

        echo = self.resource("echo")
        self.root.putChild(
            b"strict",
            SockJSResource(echo.factory, Options(origins=["example.com:*"]), self.clock),
        )

    @defer.inlineCallbacks
    def test_origins(self):
        r = yield self.http("POST", self.session("strict") + "/xhr", headers={"Origin": "http://evil.org"})
        self.assertEqual(r.code, 403)
        r = yield self.http("POST", self.session("strict") + "/xhr", headers={"Origin": "http://example.com"})
        self.assertEqual((r.code, r.body), (200, b"o\n"))
        r = yield self.http("POST", self.session("strict") + "/xhr")
        self.assertEqual((r.code, r.body), (200, b"o\n"))
        r = yield self.http("GET", "/strict/info")
        self.assertEqual(json.loads(r.body)["origins"], ["example.com:*"])
