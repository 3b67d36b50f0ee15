"""
Hostile and careless clients against the websocket transports and the
streaming HTTP receivers, on a real server process (examples/test_server.py)
over real sockets on 127.0.0.1.

Each test checks the answer the client sees and that the server's memory
(VmRSS of the process) comes back near where it was once the client is
gone. The server runs with short write timeouts and a 64 KiB message limit
so that every attack is small and fast; every loop is bounded in count and
time.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time
import uuid
from typing import List, Optional, Tuple

from twisted.trial import unittest

from ._serverproc import ServerProcess

LIMIT = 65536
WRITE_TIMEOUT = 0.5
#: how long any single wait of these tests may take, in seconds
WAIT = 10.0
#: how far above its baseline the server's RSS may stay (KiB): generous,
#: and well under what each attack would make an unbounded server buffer (80 MiB)
MARGIN_KIB = 30 * 1024
#: answers of 512 KiB a stalled reader is sent (80 MiB)
ANSWERS = 160


def _id() -> str:
    return uuid.uuid4().hex


class _Wire:
    """
    Blocking-socket helpers: a websocket handshake, frames out and in.
    """

    def __init__(self, server: ServerProcess) -> None:
        self.server = server

    def connect(self, rcvbuf: Optional[int] = None) -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if rcvbuf is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(WAIT)
        s.connect(("127.0.0.1", self.server.port))
        return s

    def websocket(self, path: str, rcvbuf: Optional[int] = None) -> Tuple[socket.socket, bytes]:
        s = self.connect(rcvbuf)
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                raise AssertionError(f"no handshake answer: {data!r}")
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        return s, rest

    @staticmethod
    def frame(payload: bytes, opcode: int = 1, announced: Optional[int] = None, first: int = -1) -> bytes:
        length = len(payload) if announced is None else announced
        b0 = (0x80 | opcode) if first < 0 else first
        if length < 126:
            head = bytes((b0, 0x80 | length))
        elif length < 65536:
            head = bytes((b0, 0x80 | 126)) + struct.pack("!H", length)
        else:
            head = bytes((b0, 0x80 | 127)) + struct.pack("!Q", length)
        return head + b"\0\0\0\0" + payload  # mask key 0: payload as is

    @staticmethod
    def read_all(
        s: socket.socket, data: bytes = b"", limit: int = 1 << 20, until: bytes = b""
    ) -> Tuple[bytes, str]:
        """
        Read until the server ends the connection (or WAIT passes): what
        came, and how it ended ("eof", "reset" or "timeout").
        """
        deadline = time.monotonic() + WAIT
        s.settimeout(0.2)
        while time.monotonic() < deadline and len(data) < limit:
            if until and until in data:
                return data, "answered"
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return data, "reset"
            if not chunk:
                return data, "eof"
            data += chunk
        return data, "timeout"

    @staticmethod
    def frames(data: bytes) -> List[Tuple[int, bytes]]:
        """
        The server's (unmasked) frames in C{data}.
        """
        out = []
        while len(data) >= 2:
            opcode, n = data[0] & 0x0F, data[1] & 0x7F
            i = 2
            if n == 126:
                n, i = struct.unpack("!H", data[2:4])[0], 4
            elif n == 127:
                n, i = struct.unpack("!Q", data[2:10])[0], 10
            if len(data) < i + n:
                break
            out.append((opcode, data[i : i + n]))
            data = data[i + n :]
        return out

    @staticmethod
    def close_code(frames: List[Tuple[int, bytes]]) -> Optional[int]:
        for opcode, payload in frames:
            if opcode == 8 and len(payload) >= 2:
                return struct.unpack("!H", payload[:2])[0]
        return None

    def http(self, method: str, path: str, body: bytes = b"") -> bytes:
        s = self.connect()
        try:
            s.sendall(
                (
                    f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode()
                + body
            )
            data, _ = self.read_all(s)
            return data
        finally:
            s.close()

    @staticmethod
    def wait_closed(s: socket.socket, timeout: float) -> str:
        """
        Without reading what was sent, wait until the server dropped the
        connection: "reset" (aborted) or "eof"; "open" if it did not.
        """
        import select

        deadline = time.monotonic() + timeout
        poller = select.poll()
        poller.register(s, select.POLLERR | select.POLLHUP | getattr(select, "POLLRDHUP", 0))
        while time.monotonic() < deadline:
            events = poller.poll(100)
            if events:
                try:
                    s.settimeout(0.1)
                    while s.recv(1 << 20):
                        pass
                    return "eof"
                except ConnectionResetError:
                    return "reset"
                except socket.timeout:
                    return "closed"
        return "open"


class _HostileBase(unittest.TestCase):
    timeout = 60
    server_args: Tuple[str, ...] = (
        "--write-timeout",
        str(WRITE_TIMEOUT),
        "--max-message-size",
        str(LIMIT),
        "--response-limit",
        str(1 << 30),
    )

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = ServerProcess.start(*cls.server_args)
        cls.wire = _Wire(cls.server)
        try:
            # warm up every code path once, so the baseline includes them
            cls.wire.http("GET", "/echo/info")
            s, rest = cls.wire.websocket(f"/amplify/000/{_id()}/websocket")
            s.sendall(_Wire.frame(b'["19"]'))
            cls.wire.read_all(s, rest, limit=512 * 1024)
            s.close()
        except BaseException:
            cls.server.stop()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def setUp(self) -> None:
        self.sockets: List[socket.socket] = []
        self.server.reset_peak()
        self.baseline = self.server.rss_kib()

    def tearDown(self) -> None:
        for s in self.sockets:
            s.close()
        # whatever a test did, the server is alive, answers, and logged no traceback
        self.assertTrue(self.server.alive(), self.server.log_text()[-3000:])
        self.assertIn(b"200 OK", self.wire.http("GET", "/echo/info"))
        self.server.assert_no_tracebacks()

    def keep(self, s: socket.socket) -> socket.socket:
        self.sockets.append(s)
        return s

    def assert_memory_back(self) -> None:
        """
        The server's RSS comes back within MARGIN_KIB of the test's baseline.
        """
        deadline = time.monotonic() + WAIT
        rss = self.server.rss_kib()
        while rss > self.baseline + MARGIN_KIB and time.monotonic() < deadline:
            time.sleep(0.1)
            rss = self.server.rss_kib()
        self.assertLessEqual(
            rss, self.baseline + MARGIN_KIB, f"RSS {rss} KiB, baseline {self.baseline} KiB"
        )


class OversizeTests(_HostileBase):
    def test_sockjs_websocket_message(self):
        s, rest = self.wire.websocket(f"/echo/000/{_id()}/websocket")
        self.keep(s)
        s.sendall(self.wire.frame(json.dumps(["x" * LIMIT]).encode()))
        data, ended = self.wire.read_all(s, rest)
        frames = self.wire.frames(data)
        self.assertEqual(frames[0], (1, b"o"))
        self.assertEqual(frames[1], (1, b'c[1009,"Message too big"]'))
        self.assertEqual(self.wire.close_code(frames), 1009)
        self.assertIn(ended, ("eof", "reset"))
        self.assert_memory_back()

    def test_raw_websocket_message(self):
        s, rest = self.wire.websocket("/echo/websocket")
        self.keep(s)
        s.sendall(self.wire.frame(b"y" * (LIMIT + 1)))
        data, ended = self.wire.read_all(s, rest)
        frames = self.wire.frames(data)
        self.assertEqual([f[0] for f in frames], [8])
        self.assertEqual(self.wire.close_code(frames), 1009)
        self.assertIn(ended, ("eof", "reset"))

    def test_fragmented_message(self):
        # small frames, too big together
        s, rest = self.wire.websocket("/echo/websocket")
        self.keep(s)
        part = b"z" * (LIMIT // 2 + 1)
        s.sendall(self.wire.frame(part, first=0x01) + self.wire.frame(part, first=0x80))
        data, _ = self.wire.read_all(s, rest)
        self.assertEqual(self.wire.close_code(self.wire.frames(data)), 1009)

    def test_announced_gigabyte_partly_sent(self):
        # a frame announced as 1 GiB is refused when its header arrives; the
        # server does not buffer what follows
        s, rest = self.wire.websocket(f"/echo/000/{_id()}/websocket")
        self.keep(s)
        s.sendall(self.wire.frame(b"", announced=1 << 30))
        sent = 0
        chunk = b"\0" * (1 << 20)
        try:
            for _ in range(64):  # at most 64 MiB
                s.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        data, ended = self.wire.read_all(s, rest)
        frames = self.wire.frames(data)
        self.assertIn((1, b'c[1009,"Message too big"]'), frames)
        self.assertEqual(self.wire.close_code(frames), 1009)
        self.assertIn(ended, ("eof", "reset"))
        self.assertLess(self.server.peak_rss_kib(), self.baseline + MARGIN_KIB + 64 * 1024)
        self.assert_memory_back()

    def test_hixie76_message(self):
        for path, expected in (
            (f"/echo/000/{_id()}/websocket", b'\x00c[1009,"Message too big"]\xff\xff\x00'),
            ("/echo/websocket", b"\xff\x00"),
        ):
            s = self.keep(self.wire.connect())
            s.sendall(
                (
                    f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: WebSocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n"
                    "Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n\r\n"
                ).encode()
                + b"aaaaaaaa"
            )
            try:
                for _ in range(8):  # an unfinished frame, 8 x 16 KiB
                    s.sendall(b"\x00" + b"h" * (16 * 1024) if _ == 0 else b"h" * (16 * 1024))
            except OSError:
                pass
            data, ended = self.wire.read_all(s)
            self.assertIn(b"101 WebSocket Protocol Handshake", data)
            self.assertTrue(data.endswith(expected), data[-60:])
            self.assertIn(ended, ("eof", "reset"))
        self.assert_memory_back()


class MalformedTests(_HostileBase):
    def test_hixie76_keys_and_frames(self):
        path = f"/echo/000/{_id()}/websocket"
        for key1 in ("9999999999 9999999999", "no digits here", "12345"):
            s = self.keep(self.wire.connect())
            s.sendall(
                (
                    f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: WebSocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Key1: {key1}\r\n"
                    "Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n\r\n"
                ).encode()
                + b"aaaaaaaa"
            )
            data, _ = self.wire.read_all(s, until=b"malformed hixie-76 keys.")
            self.assertTrue(data.startswith(b"HTTP/1.1 400"), (key1, data[:200]))
        # a frame type hixie-76 text does not know ends the connection
        s = self.keep(self.wire.connect())
        s.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: WebSocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n"
                "Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n\r\n"
            ).encode()
            + b"aaaaaaaa\x42garbage"
        )
        data, ended = self.wire.read_all(s)
        self.assertTrue(data.endswith(b"\x00o\xff"), data[-20:])
        self.assertIn(ended, ("eof", "reset"))

    def test_raw_frames(self):
        bad = [
            ("rsv bits", bytes((0xF1, 0x80 | 1)) + b"\0\0\0\0x"),
            ("unknown opcode", bytes((0x83, 0x80 | 1)) + b"\0\0\0\0x"),
            ("unmasked", bytes((0x81, 1)) + b"x"),
            ("non-minimal length", bytes((0x81, 0x80 | 126)) + struct.pack("!H", 5) + b"\0\0\0\0hello"),
            ("continuation first", bytes((0x80, 0x80 | 1)) + b"\0\0\0\0x"),
            ("fragmented ping", bytes((0x09, 0x80 | 1)) + b"\0\0\0\0x"),
            ("bad close code", self.wire.frame(struct.pack("!H", 999), opcode=8)),
            ("invalid utf-8", self.wire.frame(b"\xc3\x28", opcode=1)),
        ]
        for path in (f"/echo/000/{_id()}/websocket", "/echo/websocket"):
            for name, payload in bad:
                s, rest = self.wire.websocket(path)
                self.keep(s)
                s.sendall(payload)
                data, ended = self.wire.read_all(s, rest)
                self.assertIn(ended, ("eof", "reset"), (path, name))
                if name == "invalid utf-8" and path == "/echo/websocket":
                    self.assertEqual(self.wire.close_code(self.wire.frames(data)), 1007)
        self.assert_memory_back()


class StalledReaderTests(_HostileBase):
    """
    A client that stops reading while the application writes is dropped
    after the write timeout, and what was buffered for it is freed.
    """

    def amplify_ws(self) -> socket.socket:
        s, _ = self.wire.websocket(f"/amplify/000/{_id()}/websocket", rcvbuf=4096)
        return self.keep(s)

    def test_websocket_under_amplify(self):
        s = self.amplify_ws()
        # answers of 512 KiB that the client never reads
        s.sendall(self.wire.frame(b'["19"]') * ANSWERS)
        started = time.monotonic()
        self.assertEqual(self.wire.wait_closed(s, WAIT), "reset")
        self.assertLess(time.monotonic() - started, WRITE_TIMEOUT + 5)
        # The session's queue bound (max_queue_size, 4 MiB) stops the
        # buffering long before the 80 MiB sent: the session closes with 1013
        # (superseding "80 MiB buffered, then freed"), and its close, which
        # the client never reads, is aborted after the write timeout.
        self.assertLess(self.server.peak_rss_kib(), self.baseline + MARGIN_KIB)
        self.assert_memory_back()

    def test_hixie76_under_amplify(self):
        s = self.keep(self.wire.connect(rcvbuf=4096))
        s.sendall(
            (
                f"GET /amplify/000/{_id()}/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Upgrade: WebSocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n"
                "Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n\r\n"
            ).encode()
            + b"aaaaaaaa"
            + b'\x00["19"]\xff' * ANSWERS
        )
        self.assertEqual(self.wire.wait_closed(s, WAIT), "reset")
        # bounded by max_queue_size, not the 80 MiB sent (see above)
        self.assertLess(self.server.peak_rss_kib(), self.baseline + MARGIN_KIB)
        self.assert_memory_back()

    def test_websocket_under_broadcast(self):
        stalled, _ = self.wire.websocket(f"/broadcast/000/{_id()}/websocket", rcvbuf=4096)
        self.keep(stalled)
        talker, rest = self.wire.websocket(f"/broadcast/000/{_id()}/websocket")
        self.keep(talker)
        message = json.dumps(["b" * 60000]).encode()
        received = b""
        for _ in range(120):  # 7 MB for the stalled reader, read by the talker
            talker.sendall(self.wire.frame(message))
            talker.settimeout(WAIT)
            received += talker.recv(1 << 20)
        self.assertEqual(self.wire.wait_closed(stalled, WAIT), "reset")
        # the other session is untouched: it still echoes through the broadcast
        talker.sendall(self.wire.frame(b'["still here"]'))
        deadline = time.monotonic() + WAIT
        while b'a["still here"]' not in received and time.monotonic() < deadline:
            received += talker.recv(1 << 20)
        self.assertIn(b'a["still here"]', received)
        self.assert_memory_back()

    def streaming(self, transport: str, method: str, query: str = "") -> None:
        sid = _id()
        base = f"/amplify/000/{sid}"
        s = self.keep(self.wire.connect(rcvbuf=4096))
        s.sendall(
            f"{method} {base}/{transport}{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Length: 0\r\n\r\n".encode()
        )
        time.sleep(0.2)  # the session opens (bounded: a tenth of WRITE_TIMEOUT*4)
        for _ in range(ANSWERS // 4):  # answers of 512 KiB the reader never reads
            answer = self.wire.http("POST", f"{base}/xhr_send", b'["19"]')
            if not answer.startswith(b"HTTP/1.1 204"):
                break  # the session ended already
        self.assertIn(self.wire.wait_closed(s, WAIT), ("reset", "eof"))
        self.assert_memory_back()

    def test_xhr_streaming(self):
        self.streaming("xhr_streaming", "POST")

    def test_eventsource(self):
        self.streaming("eventsource", "GET")

    def test_htmlfile(self):
        self.streaming("htmlfile", "GET", "?c=callback")
