# -*- test-case-name: tests.test_tap -*-
"""
Dotted names to protocol factories: how C{twistd sockjs} (and the
multiplexer, for its channels) turns what it is given into an
C{IProtocolFactory}.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Optional

from twisted.internet.interfaces import IProtocol, IProtocolFactory
from twisted.internet.protocol import Factory, Protocol
from twisted.python import reflect

from .bus import bind_bus

__all__ = [
    "ConfigurationError",
    "HandlerError",
    "as_factory",
    "simple_factory",
    "load_handler",
    "load_object",
]


class ConfigurationError(Exception):
    """
    The command line names something that cannot be served. The message is
    one line, fit to show to the person who typed it.
    """


class HandlerError(ConfigurationError):
    """
    A dotted name could not be turned into what it should name.
    """


def load_object(dotted: str, what: str = "handler") -> Any:
    """
    The object C{dotted} names.

    @raise HandlerError: it does not import or names nothing.
    """
    if not isinstance(dotted, str) or not dotted.strip():
        raise HandlerError(f"{what}: an empty dotted name")
    dotted = dotted.strip()
    try:
        return reflect.namedAny(dotted)
    except reflect.ModuleNotFound as e:
        raise HandlerError(f"{what} {dotted!r}: {e}") from None
    except reflect.ObjectNotFound as e:
        top = dotted.split(".")[0]
        try:
            found = importlib.util.find_spec(top) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise HandlerError(
                f"{what} {dotted!r}: no module named {top!r} on sys.path; "
                f"add the folder that holds it to PYTHONPATH "
                f"(PYTHONPATH=. when it is in the current directory)"
            ) from None
        raise HandlerError(f"{what} {dotted!r}: {e}") from None
    except AttributeError as e:
        # the module imported, the name is not in it
        raise HandlerError(f"{what} {dotted!r}: {e}") from None
    except reflect.InvalidName as e:
        raise HandlerError(f"{what} {dotted!r}: not a dotted name ({e})") from None
    except Exception as e:
        # the module exists but raised while it was imported
        raise HandlerError(
            f"{what} {dotted!r}: importing it raised {type(e).__name__}: {e}"
        ) from None


def _is_protocol_class(obj: Any) -> bool:
    return isinstance(obj, type) and (
        issubclass(obj, Protocol) or IProtocol.implementedBy(obj)
    )


def _is_factory_class(obj: Any) -> bool:
    return isinstance(obj, type) and (
        issubclass(obj, Factory) or IProtocolFactory.implementedBy(obj)
    )


def simple_factory(obj: Any) -> Optional[IProtocolFactory]:
    """
    C{obj} when it is a protocol factory, a factory for it when it is a
    protocol class, else C{None}: the coercion that needs no call.
    """
    if IProtocolFactory.providedBy(obj):
        return obj
    if _is_protocol_class(obj):
        return Factory.forProtocol(obj)
    return None


def as_factory(obj: Any, name: str = "handler") -> IProtocolFactory:
    """
    Turn what a handler name designates into a protocol factory.

    @param obj: a factory, a factory class, a protocol class, or a callable
        returning one of those.
    @param name: how to refer to C{obj} in error messages.

    @raise HandlerError: C{obj} is none of those.
    """
    if IProtocolFactory.providedBy(obj):
        return obj
    if _is_factory_class(obj):
        try:
            made = obj()
        except Exception as e:
            raise HandlerError(
                f"{name}: the factory class {obj.__qualname__} could not be "
                f"made with no arguments: {type(e).__name__}: {e}"
            ) from None
        return as_factory(made, name)
    if _is_protocol_class(obj):
        return Factory.forProtocol(obj)
    if isinstance(obj, type):
        raise HandlerError(
            f"{name}: the class {obj.__qualname__} is neither a protocol "
            "nor a protocol factory"
        )
    if callable(obj):
        try:
            made = obj()
        except Exception as e:
            raise HandlerError(
                f"{name}: calling it raised {type(e).__name__}: {e}"
            ) from None
        if IProtocolFactory.providedBy(made) or _is_protocol_class(made):
            return as_factory(made, name)
        raise HandlerError(
            f"{name}: calling it returned {_describe(made)}, "
            "not a protocol factory"
        )
    raise HandlerError(
        f"{name} is {_describe(obj)}, not a protocol factory, "
        "a protocol class or a callable"
    )


def _describe(obj: Any) -> str:
    text = repr(obj)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(obj).__name__} {text}"


def load_handler(dotted: str, bus: Any = None) -> IProtocolFactory:
    """
    The protocol factory a C{--handler} or C{--mount} dotted name designates;
    a callable taking a C{bus} argument is called with C{bus}.

    @raise HandlerError: with a one-line explanation.
    """
    obj = load_object(dotted, "handler")
    if bus is not None:
        obj = bind_bus(obj, bus)
    return as_factory(obj, f"handler {dotted.strip()!r}")


