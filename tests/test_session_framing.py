"""
The session's seams: the framing it gets at construction decides everything
its client sees (open, messages, close), and C{txsockjs.session} promises
only its public names.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple, Union

from twisted.internet.address import IPv4Address
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.web.http_headers import Headers
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

import txsockjs.session
from txsockjs._receiver import IReceiver
from txsockjs import SessionState
from txsockjs._hub import SessionHub
from txsockjs._rawsession import RawSession
from txsockjs._sessionframing import RAW, SOCKJS, IRawReceiver, ISessionFraming
from txsockjs.broadcast import broadcast
from txsockjs.session import RequestInfo, Session


def _info() -> RequestInfo:
    address = IPv4Address("TCP", "127.0.0.1", 40000)
    return RequestInfo(b"POST", b"/", b"/", Headers(), address, address, {}, False)


class Recorder(Protocol):
    def __init__(self) -> None:
        self.received: List[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self.received.append(data)


@implementer(IReceiver)
class Receiver:
    """
    A streaming receiver (C{polling}: one frame, then it detaches).
    """

    def __init__(self, session: Session, polling: bool = False) -> None:
        self.session = session
        self.polling = polling
        self.frames: List[bytes] = []

    def send_frame(self, frame: bytes) -> None:
        self.frames.append(frame)
        if self.polling:
            self.session.detach(self)

    def close(self) -> None:
        self.session.detach(self)

    def heartbeat(self) -> None:
        self.send_frame(b"h")


@implementer(ISessionFraming)
class Tagging:
    """
    A framing that says what it was asked, one C{bytes} frame per call.
    """

    def open(self, receiver: IReceiver) -> None:
        receiver.send_frame(b"<open>")

    def messages(self, receiver: IReceiver, messages: List[Union[str, bytes]]) -> int:
        frame = ("<" + "|".join(str(m) for m in messages) + ">").encode()
        receiver.send_frame(frame)
        return 7

    def close(self, receiver: IReceiver, code: int, reason: str) -> None:
        receiver.send_frame(f"<close {code} {reason}>".encode())
        receiver.close()


@implementer(IRawReceiver)
class RawReceiver:
    """
    What a raw websocket does with a raw session's messages, recorded.
    """

    def __init__(self) -> None:
        self.sent: List[Tuple[str, object]] = []

    def send_frame(self, frame: bytes) -> None:
        self.sent.append(("frame", frame))

    def heartbeat(self) -> None:
        self.sent.append(("heartbeat", None))

    def close(self) -> None:
        self.sent.append(("close", None))

    def send_text(self, message: str) -> int:
        self.sent.append(("text", message))
        return len(message.encode("utf-8"))

    def send_binary(self, data: bytes) -> None:
        self.sent.append(("binary", data))

    def close_with(self, code: int, reason: str) -> None:
        self.sent.append(("close_with", (code, reason)))


class FramingSeamTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.hub = SessionHub(self.clock)

    def test_the_framings_provide_the_interface(self) -> None:
        self.assertTrue(verifyObject(ISessionFraming, SOCKJS))
        self.assertTrue(verifyObject(ISessionFraming, RAW))
        self.assertTrue(verifyObject(IRawReceiver, RawReceiver()))

    def test_the_framing_given_at_construction_makes_every_frame(self) -> None:
        session = Session("t", Recorder(), self.hub, _info(), "xhr_streaming", framing=Tagging())
        receiver = Receiver(session)
        session.attach(receiver)
        session.send("a")
        session.write(b"b")
        self.clock.advance(0)
        session.close(3000, "bye")
        self.assertEqual(receiver.frames, [b"<open>", b"<a|b>", b"<close 3000 bye>"])
        # the session counts what the framing says it sent
        self.assertEqual(self.hub.counters.messages_out, 2)
        self.assertEqual(self.hub.counters.bytes_out, 7)

    def test_a_late_receiver_of_a_closed_session_gets_the_framings_close(self) -> None:
        session = Session("t", Recorder(), self.hub, _info(), "xhr", framing=Tagging())
        session.attach(Receiver(session, polling=True))
        session.close(3000, "bye")
        session.attach(Receiver(session, polling=True))
        self.assertIs(session.state, SessionState.CLOSED)
        late = Receiver(session, polling=True)
        session.attach(late)
        self.assertEqual(late.frames, [b"<close 3000 bye>"])

    def test_sockjs_framing_is_the_default(self) -> None:
        session = Session("t", Recorder(), self.hub, _info(), "xhr_streaming")
        receiver = Receiver(session)
        session.attach(receiver)
        session.send("a")
        self.clock.advance(0)
        session.close(3000, "bye")
        self.assertEqual(receiver.frames, [b"o", b'a["a"]', b'c[3000,"bye"]'])

    def test_raw_session_sends_bare_messages_and_a_websocket_close(self) -> None:
        session = RawSession("r", Recorder(), self.hub, _info(), "raw_websocket", timed=False)
        receiver = RawReceiver()
        session.attach(receiver)
        session.write(b"caf\xc3\xa9")
        session.write_binary(bytearray(b"\x00\xff"))
        broadcast([session], "all")
        self.clock.advance(0)
        session.close(4000, "done")
        self.assertEqual(
            receiver.sent,
            [
                ("text", "caf\u00e9"),
                ("binary", b"\x00\xff"),
                ("text", "all"),
                ("close_with", (4000, "done")),
            ],
        )
        self.assertEqual(self.hub.counters.messages_out, 3)
        self.assertEqual(self.hub.counters.bytes_out, 5 + 2 + 3)

    def test_raw_binary_refused_by_a_text_only_protocol(self) -> None:
        class TextOnly(Recorder):
            def messageReceived(self, message: str) -> None:
                self.received.append(message.encode())

        session = RawSession("r", TextOnly(), self.hub, _info(), "raw_websocket", timed=False)
        receiver = RawReceiver()
        session.attach(receiver)
        messages: Sequence[Union[str, bytes]] = ["text", b"\xff"]
        session.deliver(messages)
        self.assertEqual(receiver.sent, [("close_with", (1003, "Binary messages not accepted"))])


class PublicNamesTests(SynchronousTestCase):
    def test_session_module_promises_only_the_session_api(self) -> None:
        self.assertEqual(
            sorted(txsockjs.session.__all__),
            ["RequestInfo", "Session", "SessionNotOpen", "SessionState"],
        )
        for name in txsockjs.session.__all__:
            self.assertIs(getattr(txsockjs.session, name), getattr(txsockjs, name))

    def test_internals_are_not_public(self) -> None:
        for name in ("SessionHub", "SessionRegistry", "RawSession"):
            self.assertFalse(hasattr(txsockjs.session, name), name)
            self.assertNotIn(name, txsockjs.__all__)
