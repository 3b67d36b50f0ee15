"""
Frames out and payloads in, as pure functions.
"""

import json

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from txsockjs._framing import (
    BrokenJSON,
    PayloadExpected,
    close_frame,
    json_string,
    message_frame,
    parse_messages,
    parse_websocket_message,
)


class FrameTests(SynchronousTestCase):
    def test_messages_and_close(self):
        self.assertEqual(message_frame(["a", 'b"\\']), b'a["a","b\\"\\\\"]')
        self.assertEqual(close_frame(3000, "Go away!"), b'c[3000,"Go away!"]')

    def test_characters_clients_mangle_are_escaped(self):
        for char in ["\u2028", "\u2029", "\u200c", "\u2060", "\ufeff", "\ufff0", "\uffff",
                     "\ud800", "\udfff", "\x00", "\x1f", "\x7f", "\x9f", "\u00ad", "\u0600"]:
            frame = message_frame([char])
            self.assertEqual(frame, b'a["\\u%04x"]' % ord(char), repr(char))

    def test_other_unicode_travels_as_utf8(self):
        self.assertEqual(message_frame(["\u00e9\U0001F600"]), 'a["\u00e9\U0001F600"]'.encode())

    def test_json_string_cannot_break_out_of_script(self):
        frame = message_frame(["</script><script>alert(1)</script><!-- ]]> &amp;"])
        literal = json_string(frame)
        for raw in (b"<", b">", b"&"):
            self.assertNotIn(raw, literal)
        self.assertEqual(json.loads(literal), frame.decode())

    @given(st.lists(st.text()))
    def test_frames_decode_back_to_the_messages(self, messages):
        frame = message_frame(messages)
        frame.decode("utf-8")  # always valid UTF-8, surrogates included
        decoded = json.loads(frame[1:], strict=False)
        self.assertEqual(decoded, messages)
        self.assertEqual(json.loads(json.loads(json_string(frame))[1:]), messages)


class ParseTests(SynchronousTestCase):
    def test_send_bodies(self):
        self.assertEqual(parse_messages(b'["a","b"]'), ["a", "b"])
        self.assertEqual(parse_messages(b"[]"), [])
        self.assertRaises(PayloadExpected, parse_messages, b"")
        for bad in [b'["a', b'"a"', b"[1]", b'{"a":1}', b"\xff", b"[" * 100000]:
            self.assertRaises(BrokenJSON, parse_messages, bad)
        self.assertEqual(str(BrokenJSON()), "Broken JSON encoding.")
        self.assertEqual(str(PayloadExpected()), "Payload expected.")

    def test_websocket_payloads(self):
        self.assertEqual(parse_websocket_message(b""), [])
        self.assertEqual(parse_websocket_message(b'"bare"'), ["bare"])
        self.assertEqual(parse_websocket_message(b'["a"]'), ["a"])
        self.assertEqual(parse_websocket_message(b'["\\ud800"]'), ["\ud800"])
        for bad in [b'["a', b"null", b'[null]', b"\xc3\x28"]:
            self.assertRaises(BrokenJSON, parse_websocket_message, bad)


class EventSourceWrapTests(SynchronousTestCase):
    def test_percent_survives_the_clients_decodeURI(self):
        from txsockjs._transports.eventsource import EventSource

        wrap = EventSource(None, None, 4096).wrap
        frame = message_frame(["100% %20 %zz"])
        self.assertEqual(wrap(frame), b'data: a["100%25 %2520 %25zz"]\r\n\r\n')
        self.assertEqual(wrap(b"o"), b"data: o\r\n\r\n")
