# -*- test-case-name: tests.test_fields -*-
"""
The settings of a SockJS endpoint as people type them: one table from which
the C{twistd sockjs} flags (L{txsockjs.tap}) and the C{sockjs:} endpoint
keywords (L{txsockjs.endpoints}) are made, with their help, their parsing
and what their error messages say is expected.

Each L{Field} parses one text value; a bad one raises L{FieldError} saying
what was expected, and each command line names the flag or keyword its own
way (C{--heartbeat-delay 'soon': expected ...},
C{sockjs endpoint: heartbeat_delay='soon': expected ...}).
"""

from __future__ import annotations

import codecs
import dataclasses
import enum
import importlib.util
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence, Tuple

from autobahn.twisted.websocket import WebSocketServerFactory
from autobahn.websocket.compress import (
    PerMessageCompressOffer,
    PerMessageDeflateOffer,
    PerMessageDeflateOfferAccept,
)

from ._handlers import describe, named_object
from ._origins import origin_pattern
from ._shutdown import DEFAULT_SHUTDOWN_TIMEOUT
from .options import TRANSPORTS, Options

__all__ = ["Field", "FieldError", "FIELDS", "OPTION_NAMES", "parse_bool", "build_options"]

_OPTION_FIELDS = {f.name: f for f in dataclasses.fields(Options)}

#: the names of the L{Options} fields (the other fields are settings of the
#: server around the endpoint)
OPTION_NAMES = frozenset(_OPTION_FIELDS)


class FieldError(ValueError):
    """
    A text value does not fit its field. The message says what was expected
    (C{expected a positive number of seconds}), without the name or the
    value, which the command line adds in its own words.
    """


@dataclasses.dataclass(frozen=True)
class Field:
    """
    One setting, as a C{twistd sockjs} flag and a C{sockjs:} keyword.

    @ivar name: the L{Options} field it sets, or the name of a setting of
        the server (C{shutdown_timeout}).
    @ivar flag: the C{twistd sockjs} flag, without C{--}.
    @ivar help: what it does, for C{--help}.
    @ivar parse: one text value (one item, for a repeated field) to what the
        field holds; raises L{FieldError}.
    @ivar flag_only: not a C{sockjs:} keyword (the others are, by C{name}).
    @ivar switch: for a flag that takes no value, the value it gives (the
        keyword takes yes or no).
    @ivar collect: for a field that holds several values: the flag repeats,
        the keyword takes them comma-separated, and this makes the field's
        value of the parsed items.
    @ivar default: a setting's default (an L{Options} field's is the
        dataclass's).
    @ivar shown_default: how C{--help} shows the default, when the default
        itself does not say it well.
    """

    name: str
    flag: str
    help: str
    parse: Callable[[str], object]
    flag_only: bool = False
    switch: Optional[bool] = None
    collect: Optional[Callable[[Sequence[object]], object]] = None
    default: object = None
    shown_default: Optional[str] = None

    @property
    def keyword(self) -> Optional[str]:
        """
        The C{sockjs:} keyword, or C{None} for a flag only.
        """
        return None if self.flag_only else self.name

    @property
    def help_text(self) -> str:
        """
        The help with the default, as C{--help} shows it.
        """
        shown = self.shown_default
        if shown is None and self.switch is None and self.collect is None:
            value = self.default_value()
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            shown = None if value is None else str(value)
        return self.help if shown is None else f"{self.help} [default: {shown}]"

    def default_value(self) -> object:
        """
        The value the field has when it is not given.
        """
        if self.name not in OPTION_NAMES:
            return self.default
        declared = _OPTION_FIELDS[self.name]
        if declared.default_factory is not dataclasses.MISSING:
            return declared.default_factory()
        return declared.default


# -- parsers -----------------------------------------------------------------


class Zero(enum.Enum):
    """
    What 0 means to a number field.
    """

    #: refused: the number must be positive
    REFUSED = "refused"
    #: allowed, and kept (a timeout of 0: at once)
    ALLOWED = "allowed"
    #: turns the limit off (the field holds C{None}); C{none} does too
    IS_NONE = "none"


def _number(kind: Callable[[str], float], expected: str, zero: Zero) -> Callable[[str], object]:
    def parse(text: str) -> object:
        if zero is Zero.IS_NONE and text.strip().lower() == "none":
            return None
        try:
            number = kind(text)
        except ValueError:
            raise FieldError(f"expected {expected}") from None
        if number != number or number < 0 or (number == 0 and zero is Zero.REFUSED):
            raise FieldError(f"expected {expected}")
        return None if number == 0 and zero is Zero.IS_NONE else number

    return parse


def seconds(expected: str, zero: Zero = Zero.REFUSED) -> Callable[[str], object]:
    """
    A parser of a number of seconds.
    """
    return _number(float, expected, zero)


def count(expected: str, zero: Zero = Zero.REFUSED) -> Callable[[str], object]:
    """
    A parser of a whole number (bytes, characters, connections, ...).
    """
    return _number(int, expected, zero)


_TRUE = frozenset({"1", "yes", "true", "on"})
_FALSE = frozenset({"0", "no", "false", "off"})


def parse_bool(text: str) -> bool:
    """
    C{yes}/C{no}, C{true}/C{false}, C{on}/C{off}, C{1}/C{0}.
    """
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise FieldError("expected yes or no")


def _url(text: str) -> str:
    if not text.strip():
        raise FieldError("expected a URL")
    return text


def _codec(text: str) -> str:
    try:
        codecs.lookup(text)
    except LookupError:
        raise FieldError("expected a codec name, such as utf-8 or latin-1") from None
    return text


def _path(text: str) -> str:
    segments = [segment for segment in text.split("/") if segment]
    if not segments:
        raise FieldError("expected a path, e.g. /metrics")
    if importlib.util.find_spec("prometheus_client") is None:
        raise FieldError("needs prometheus_client: pip install 'txsockjs[metrics]'")
    return "/" + "/".join(segments)


def _origin(text: str) -> str:
    try:
        return origin_pattern(text)
    except ValueError as e:
        raise FieldError(str(e)) from None


_KNOWN_TRANSPORTS = tuple(sorted(TRANSPORTS | {"raw_websocket"}))


def _transport(text: str) -> str:
    name = text.strip()
    if name not in _KNOWN_TRANSPORTS:
        raise FieldError(f"expected one of {', '.join(_KNOWN_TRANSPORTS)}")
    return name


def dotted(acceptable: Callable[[object], bool], expected: str) -> Callable[[str], object]:
    """
    A parser of a dotted name that names what C{acceptable} accepts, or a
    callable returning it (called with no arguments).
    """

    def parse(text: str) -> object:
        try:
            found = named_object(text)
        except ValueError as e:
            raise FieldError(str(e)) from None
        if acceptable(found):
            return found
        if callable(found):
            try:
                made = found()
            except Exception as e:
                raise FieldError(f"calling it raised {type(e).__name__}: {e}") from None
            if acceptable(made):
                return made
        raise FieldError(f"{describe(found)} will not do: expected {expected}")

    return parse


def _is_websocket_factory(found: object) -> bool:
    # (a factory class is called, like any callable, for its instance)
    return not isinstance(found, type) and hasattr(found, "setProtocolOptions")


# -- the table ---------------------------------------------------------------

_SECONDS_OR_NONE = "a number of seconds, 0 for none"
_SECONDS_OR_MORE = "a number of seconds, 0 or more"

#: Every field, in the order C{--help} lists them.
FIELDS: Tuple[Field, ...] = (
    Field("websocket", "no-websocket", "Do not serve the websocket transports.",
          parse_bool, switch=False),
    Field("raw_websocket", "raw-websocket",
          "Also serve PREFIX/websocket, a websocket with no SockJS framing: "
          "every text message is one message.",
          parse_bool, switch=True),
    Field("jsessionid", "jsessionid",
          "Set a JSESSIONID cookie on session responses (for sticky load "
          "balancers); /info then says cookie_needed.",
          parse_bool, switch=True),
    Field("websocket_compression", "websocket-compression",
          "Accept permessage-deflate on the websocket transports.",
          parse_bool, switch=True, default=False),
    Field("heartbeat_delay", "heartbeat-delay", "Seconds between heartbeat frames.",
          seconds("a positive number of seconds")),
    Field("disconnect_delay", "disconnect-delay",
          "Seconds a session lives with no receiving connection.",
          seconds("a positive number of seconds")),
    Field("response_limit", "response-limit",
          "Bytes a streaming response carries before the client must open another.",
          count("a positive number of bytes")),
    Field("sockjs_url", "sockjs-url", "The sockjs-client script the iframe page loads.",
          _url),
    Field("websocket_write_timeout", "websocket-write-timeout",
          "Seconds a websocket may stay unable to drain its writes (or to "
          "finish closing) before it is aborted; 0 waits for ever.",
          seconds(_SECONDS_OR_NONE, Zero.IS_NONE)),
    Field("streaming_write_timeout", "streaming-write-timeout",
          "Seconds an xhr_streaming, eventsource or htmlfile response may "
          "stay unable to drain its writes before it is aborted; 0 waits for ever.",
          seconds(_SECONDS_OR_NONE, Zero.IS_NONE)),
    Field("max_message_size", "max-message-size",
          "Largest incoming websocket message or frame, in bytes (SockJS, "
          "raw and hixie-76 websockets); larger ones are closed with 1009; "
          "0 for no limit.",
          count("a number of bytes, 0 for no limit", Zero.IS_NONE)),
    Field("encoding", "encoding",
          "Codec between SockJS text and the protocols' bytes (latin-1 "
          "carries any byte as one character).",
          _codec),
    Field("max_queue_size", "max-queue-size",
          "Characters of messages a session may hold for its client; past "
          "half the application's producer is paused, past all the session "
          "closes with 1013.",
          count("a positive number of characters")),
    Field("websocket_factory", "websocket-factory",
          "Dotted name of an Autobahn WebSocketServerFactory (or a callable "
          "returning one) whose protocol options the websockets use.",
          dotted(_is_websocket_factory, "an Autobahn WebSocketServerFactory")),
    Field("check_origin", "check-origin",
          "Dotted name of a callable f(request) -> bool; False refuses the "
          "request with 403.",
          dotted(callable, "a callable f(request) -> bool")),
    Field("origins", "origin",
          "Accept requests only from this origin (https://example.com, or a "
          "host:port glob like *.example.com:*); may repeat; also what /info "
          'reports in "origins". Requests with no Origin header always pass; '
          "--check-origin, when given, decides instead.",
          _origin, collect=tuple),
    Field("disabled_transports", "disable-transport",
          "Do not serve this transport (xhr_streaming, eventsource, ...); may repeat.",
          _transport, collect=frozenset),
    # -- HTTP limits (0 turns one off)
    Field("max_body_size", "max-body-size",
          "Largest xhr_send/jsonp_send request body in bytes; larger ones get "
          "413 before they are read; 0 for no limit.",
          count("a number of bytes, 0 for no limit", Zero.IS_NONE)),
    Field("header_timeout", "header-timeout",
          "Seconds a client has, from the first byte of a request, to send "
          "all its headers; slower ones get 408; 0 for none.",
          seconds(_SECONDS_OR_NONE, Zero.IS_NONE)),
    Field("idle_timeout", "idle-timeout",
          "Seconds a keep-alive connection may wait for its next request; 0 for none.",
          seconds(_SECONDS_OR_NONE, Zero.IS_NONE)),
    Field("max_connections", "max-connections",
          "Connections held at once; past it the one waiting longest for a "
          "request is closed, or a new one gets 503 when all are busy; 0 for no limit.",
          count("a number of connections, 0 for no limit", Zero.IS_NONE),
          shown_default="the file descriptor limit less a reserve"),
    Field("max_sessions", "max-sessions",
          "Sessions each endpoint holds at once; a new one past it gets 503; 0 for no limit.",
          count("a number of sessions, 0 for no limit", Zero.IS_NONE)),
    Field("metrics_path", "metrics",
          "Serve Prometheus metrics at this path (e.g. /metrics); needs "
          "prometheus_client (pip install 'txsockjs[metrics]').",
          _path),
    # -- the server around the endpoint
    Field("shutdown_timeout", "shutdown-timeout",
          "Seconds to wait, when stopping, for clients to get the close frame.",
          seconds(_SECONDS_OR_MORE, Zero.ALLOWED),
          default=DEFAULT_SHUTDOWN_TIMEOUT),
    Field("drain_timeout", "drain-timeout",
          "Seconds, on SIGTERM, between the health check turning 404 and the "
          "sessions being closed; new sessions are served meanwhile.",
          seconds(_SECONDS_OR_MORE, Zero.ALLOWED), flag_only=True, default=0.0),
)


def build_options(values: Mapping[str, object]) -> Options:
    """
    The L{Options} that parsed field values make; the fields not given keep
    their defaults, settings of the server are left out, and
    C{websocket_compression} gives the websocket factory (the one given, or
    a new one) an accept function for permessage-deflate.

    @raise TypeError: see L{Options}.
    @raise ValueError: see L{Options}.
    """
    # each value is what its own field's parser made; Options checks them
    kwargs: Dict[str, Any] = {n: v for n, v in values.items() if n in OPTION_NAMES}
    if values.get("websocket_compression"):
        factory = kwargs.get("websocket_factory") or WebSocketServerFactory()
        factory.setProtocolOptions(perMessageCompressionAccept=accept_deflate)
        kwargs["websocket_factory"] = factory
    return Options(**kwargs)


def accept_deflate(
    offers: Iterable[PerMessageCompressOffer],
) -> Optional[PerMessageDeflateOfferAccept]:
    """
    Accept a client's permessage-deflate offer, with Autobahn's defaults.
    """
    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            return PerMessageDeflateOfferAccept(offer)
    return None
