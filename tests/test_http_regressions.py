"""
Regression tests for the HTTP bugs of issue 8, in memory (real twisted.web
requests through L{txsockjs.testing}, time on a L{Clock}): JSONP
callbacks and iframe names with a final newline, session ids that are not
UTF-8, malformed and mixed-case origins, and what restricted origins mean
for CORS, framing and the transports a page loads with script or frame.
"""

from __future__ import annotations

import json

from twisted.internet import defer
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase
from twisted.web.resource import Resource

from txsockjs import Options, SockJSResource
from txsockjs.testing import SockJSTestServer


class Echo(Protocol):
    def messageReceived(self, message):
        self.transport.send(message)


def header(response, name):
    return response.header(name)


class _Served(TestCase):
    timeout = 20

    def serve(self, options=None):
        root = Resource()
        clock = Clock()
        self.resource = SockJSResource(Factory.forProtocol(Echo), options or Options(), clock)
        self.addCleanup(self.resource.shutdown)
        root.putChild(b"s", self.resource)
        self.server = SockJSTestServer(root, clock)
        self.port = 8080  # the in-memory server's port (Host: 127.0.0.1:8080)

    def get(self, method, path, headers=None, body=None):
        """
        One request; the whole response (fails if it did not end).
        """
        r = self.server.request(method, "/s" + path, headers, body or b"")
        if not r.finished:
            return defer.fail(AssertionError(f"response did not end: {r!r}"))
        return defer.succeed(r)


class CallbackTests(_Served):
    @defer.inlineCallbacks
    def test_final_newline_refused(self):
        self.serve()
        for transport in ("jsonp", "htmlfile"):
            for callback in ("abc%0A", "abc%0D%0A", "%0Aabc"):
                r = yield self.get("GET", f"/0/cb{transport}/{transport}?c={callback}")
                self.assertEqual(r.code, 500, (transport, callback, r.body))
                self.assertEqual(r.body, b'invalid "callback" parameter')
        self.assertEqual(len(self.resource.sessions), 0)

    @defer.inlineCallbacks
    def test_iframe_name_with_final_newline(self):
        self.serve()
        r = yield self.get("GET", "/iframe.html%0A")
        self.assertEqual(r.code, 404)
        r = yield self.get("GET", "/iframe.html")
        self.assertEqual(r.code, 200)


class SessionIdTests(_Served):
    @defer.inlineCallbacks
    def test_undecodable_ids_are_not_one_session(self):
        self.serve()
        r = yield self.get("POST", "/0/x%FF/xhr")
        self.assertEqual(r.code, 404)
        r = yield self.get("POST", "/0/x%FE/xhr_send", body=b'["x"]')
        self.assertEqual(r.code, 404)
        r = yield self.get("GET", "/0/x%FE/jsonp?c=f")
        self.assertEqual(r.code, 404)
        self.assertEqual(len(self.resource.sessions), 0)

    @defer.inlineCallbacks
    def test_utf8_ids_distinct(self):
        self.serve()
        for sid in ("%C3%A9", "%C3%A8"):
            r = yield self.get("POST", f"/0/{sid}/xhr")
            self.assertEqual((r.code, r.body), (200, b"o\n"))
        self.assertEqual(sorted(s.session_id for s in self.resource.sessions), ["è", "é"])


class OriginTests(_Served):
    @defer.inlineCallbacks
    def test_malformed_origin_is_403(self):
        self.serve(Options(origins=("good.example:*",)))
        for origin in ("http://x:99999", "http://[::1", "http://good.example:-1", "garbage", ""):
            r = yield self.get("GET", "/info", headers={"Origin": origin})
            self.assertEqual(r.code, 403, origin)
        self.assertEqual(self.flushLoggedErrors(), [])

    @defer.inlineCallbacks
    def test_host_patterns_ignore_case(self):
        self.serve(Options(origins=("Good.Example:*",)))
        for origin in ("http://GOOD.example", "https://good.EXAMPLE:8443"):
            r = yield self.get("GET", "/info", headers={"Origin": origin})
            self.assertEqual(r.code, 200, origin)

    @defer.inlineCallbacks
    def test_null_origin_only_when_listed(self):
        self.serve(Options(origins=("good.example:*",)))
        r = yield self.get("POST", "/0/n1/xhr", headers={"Origin": "null"})
        self.assertEqual(r.code, 403)

    @defer.inlineCallbacks
    def test_default_stays_sockjs_node_compatible(self):
        self.serve()
        r = yield self.get("POST", "/0/d1/xhr", headers={"Origin": "null"})
        self.assertEqual(r.code, 200)
        self.assertEqual(header(r, "access-control-allow-origin"), "null")
        self.assertEqual(header(r, "access-control-allow-credentials"), "true")
        r = yield self.get("GET", "/info")
        self.assertEqual(header(r, "access-control-allow-origin"), "*")
        r = yield self.get("GET", "/iframe.html")
        self.assertIsNone(header(r, "content-security-policy"))
        self.assertIsNone(header(r, "x-frame-options"))


class RestrictedOriginTests(_Served):
    ALLOWED = "https://app.example"

    def setUp(self):
        self.serve(Options(origins=("app.example:443",)))

    @defer.inlineCallbacks
    def test_cors_only_for_allowed_origins(self):
        r = yield self.get("GET", "/info", headers={"Origin": self.ALLOWED})
        self.assertEqual(header(r, "access-control-allow-origin"), self.ALLOWED)
        self.assertEqual(header(r, "access-control-allow-credentials"), "true")
        r = yield self.get("GET", "/info")
        self.assertEqual(r.code, 200)
        self.assertIsNone(header(r, "access-control-allow-origin"))
        self.assertIsNone(header(r, "access-control-allow-credentials"))
        r = yield self.get("OPTIONS", "/0/p/xhr_send", headers={"Origin": "https://evil.example"})
        self.assertEqual(r.code, 403)
        self.assertIsNone(header(r, "access-control-allow-origin"))

    @defer.inlineCallbacks
    def test_iframe_page_needs_an_allowed_referer(self):
        r = yield self.get("GET", "/iframe.html")
        self.assertEqual(r.code, 403)
        r = yield self.get("GET", "/iframe.html", headers={"Referer": "https://evil.example/x"})
        self.assertEqual(r.code, 403)
        r = yield self.get("GET", "/iframe.html", headers={"Referer": "https://app.example/page"})
        self.assertEqual(r.code, 200)
        self.assertEqual(
            header(r, "content-security-policy"), "frame-ancestors 'self' app.example:443"
        )
        self.assertIsNone(header(r, "x-frame-options"))

    def test_same_origin_referer_allowed(self):
        # the server's own pages (the SockJS iframe loading htmlfile)
        own = f"http://127.0.0.1:{self.port}/s/iframe.html"
        r = self.server.request("GET", "/s/0/h1/htmlfile?c=cb", headers={"Referer": own})
        self.assertEqual(r.code, 200)
        self.assertEqual(
            header(r, "content-security-policy"), "frame-ancestors 'self' app.example:443"
        )
        self.resource.shutdown()  # ends the stream
        self.server.flush()
        self.assertTrue(r.finished)
        body = r.body
        self.assertIn(b'c[1001,\\"Server shutting down\\"]', body)

    @defer.inlineCallbacks
    def test_framed_transports_refuse_other_origins(self):
        for method, path in (
            ("GET", "/0/f1/htmlfile?c=cb"),
            ("GET", "/0/f2/jsonp?c=cb"),
            ("POST", "/0/f3/jsonp_send"),
        ):
            for headers in ({}, {"Referer": "https://evil.example/"}, {"Origin": "null"}):
                r = yield self.get(method, path, headers=headers, body=b"d=%5B%22x%22%5D")
                self.assertEqual(r.code, 403, (path, headers))
        self.assertEqual(len(self.resource.sessions), 0)
        r = yield self.get(
            "GET", "/0/f4/jsonp?c=cb", headers={"Referer": "https://app.example/chat"}
        )
        self.assertEqual((r.code, r.body), (200, b'/**/cb("o");\r\n'))

    @defer.inlineCallbacks
    def test_xhr_without_origin_still_served(self):
        # not a browser (no Origin): nothing for CORS to protect
        r = yield self.get("POST", "/0/x1/xhr")
        self.assertEqual((r.code, r.body), (200, b"o\n"))


class FramingHeaderTests(_Served):
    @defer.inlineCallbacks
    def test_inexpressible_patterns_fall_back_to_sameorigin(self):
        self.serve(Options(origins=("ex?mple.com:*",)))
        own = f"http://127.0.0.1:{self.port}/"
        r = yield self.get("GET", "/iframe.html", headers={"Referer": own})
        self.assertEqual(r.code, 200)
        self.assertEqual(header(r, "content-security-policy"), "frame-ancestors 'self'")
        self.assertEqual(header(r, "x-frame-options"), "SAMEORIGIN")


class BodyLimitInAPlainSiteTests(_Served):
    @defer.inlineCallbacks
    def test_refused_after_reading(self):
        self.serve(Options(max_body_size=64))
        r = yield self.get("POST", "/0/b1/xhr")
        self.assertEqual(r.code, 200)
        r = yield self.get("POST", "/0/b1/xhr_send", body=json.dumps(["y" * 100]).encode())
        self.assertEqual((r.code, r.body), (413, b"Request body too large."))
        r = yield self.get("POST", "/0/b1/xhr_send", body=b'["ok"]')
        self.assertEqual(r.code, 204)
