"""
The chat demo (examples/chat) in headless Chromium: two pages on different
transports, a message typed in one appears in the other. A screenshot of both
is saved under the test's temporary folder.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterator

import pytest

from .support import REPO, Server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def chat_server() -> Iterator[str]:
    server = Server(
        [sys.executable, os.path.join(REPO, "examples", "chat", "server.py"), "--port", "0"],
        "examples/chat/server.py",
    )
    yield server.url
    server.stop()


def open_chat(context: Any, url: str, transport: str, name: str) -> Any:
    page = context.new_page()  # a browser context of its own
    page.goto(f"{url}/?transport={transport}&name={name}")
    page.wait_for_selector(f'body[data-transport="{transport}"]', timeout=10000)
    assert page.inner_text("#transport") == transport
    assert page.eval_on_selector("#choose", "e => e.value") == transport
    return page


@pytest.mark.parametrize(
    "first, second",
    [("websocket", "xhr-polling"), ("iframe-htmlfile", "jsonp-polling"), ("xhr-streaming", "eventsource")],
)
def test_message_typed_in_one_page_appears_in_the_other(
    chromium: Any, chat_server: str, tmp_path: Any, first: str, second: str
) -> None:
    alice = open_chat(chromium, chat_server, first, "alice")
    bob = open_chat(chromium, chat_server, second, "bob")
    try:
        text = f"h\u00e9llo from {first} \U0001f600 <b>not bold</b>"
        alice.fill("#text", text)
        alice.press("#text", "Enter")
        for page in (bob, alice):
            item = page.locator("#log li.message", has_text=f"from {first}")
            item.wait_for(timeout=10000)
            assert item.locator(".text").inner_text() == text
            assert item.locator(".name").inner_text() == "alice:"
            assert page.locator("#log b").count() == 0  # shown as text, not HTML

        bob.fill("#text", f"hi back over {second}")
        bob.click("#send")
        alice.locator("#log li.message", has_text=f"hi back over {second}").wait_for(timeout=10000)
        assert "2 here" in alice.inner_text("#presence") or "here" in alice.inner_text("#presence")

        for name, page in (("alice", alice), ("bob", bob)):
            path = tmp_path / f"chat-{name}-{page.inner_text('#transport')}.png"
            page.screenshot(path=str(path))
            assert path.stat().st_size > 1000
    finally:
        alice.close()
        bob.close()


def test_auto_transport_and_select(chromium: Any, chat_server: str) -> None:
    """
    With no transport forced the page uses websocket; the select forces
    another one through the URL.
    """
    page = chromium.new_page()
    try:
        page.goto(chat_server + "/")
        page.wait_for_selector('body[data-transport="websocket"]', timeout=10000)
        page.select_option("#choose", "xhr-streaming")
        page.wait_for_selector('body[data-transport="xhr-streaming"]', timeout=10000)
        assert "transport=xhr-streaming" in page.url
    finally:
        page.close()


def test_sockjs_client_from_the_cdn_without_npm(chat_server: str) -> None:
    """
    /sockjs.min.js is the npm copy when installed; without it the page's
    script is a redirect to the CDN (checked without fetching it).
    """
    import importlib.util

    spec = importlib.util.spec_from_file_location("txsockjs_chat_server", os.path.join(REPO, "examples", "chat", "server.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = module.make_root(sockjs_path="/nonexistent/sockjs.min.js")
    child = root.children[b"sockjs.min.js"]
    assert child.url == b"https://cdn.jsdelivr.net/npm/sockjs-client@1.6.1/dist/sockjs.min.js"
    local = module.make_root()
    assert local.children[b"sockjs.min.js"].path == module.LOCAL_SOCKJS

    import urllib.request

    with urllib.request.urlopen(chat_server + "/sockjs.min.js") as response:  # the test server: local
        assert b"SockJS" in response.read(200000)


def test_page_fits_320_pixels(chromium: Any, chat_server: str, tmp_path: Any) -> None:
    """
    On a 320x640 screen nothing is wider than the screen and the Send
    button is on it; a screenshot is saved for a look.
    """
    context = chromium.new_context(viewport={"width": 320, "height": 640})
    try:
        page = context.new_page()
        page.goto(chat_server + "/?transport=xhr-streaming&name=phone")
        page.wait_for_selector('body[data-state="open"]', timeout=10000)
        page.fill("#text", "a message long enough to wrap on a narrow screen, and then some more")
        page.click("#send")
        page.locator("#log li.message", has_text="narrow screen").wait_for(timeout=10000)
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        for selector in ("#send", "#text", "#name", "#choose", "#status"):
            box = page.locator(selector).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320, (selector, box)
        path = tmp_path / "chat-320.png"
        page.screenshot(path=str(path))
        assert path.stat().st_size > 1000
    finally:
        context.close()


STATE_TRANSPORTS = ["websocket", "xhr-streaming", "eventsource", "iframe-htmlfile", "xhr-polling", "jsonp-polling"]


def open_pages(chromium: Any, url: str) -> list:
    contexts = []
    for transport in STATE_TRANSPORTS:
        context = chromium.new_context()
        contexts.append(context)
        context.new_page().goto(f"{url}/?transport={transport}&name={transport}")
    for context, transport in zip(contexts, STATE_TRANSPORTS):
        page = context.pages[0]
        page.wait_for_selector(f'body[data-transport="{transport}"][data-state="open"]', timeout=15000)
    return contexts


def test_sigterm_closes_every_page_with_1001(chromium: Any) -> None:
    """
    SIGTERM (or Ctrl-C) on the demo: every page, on every transport, gets
    c[1001,"Server shutting down"] and shows that it is disconnected; the
    server exits with status 0 and no traceback.
    """
    server = Server(
        [sys.executable, os.path.join(REPO, "examples", "chat", "server.py"), "--port", "0"], "chat"
    )
    contexts = []
    try:
        contexts = open_pages(chromium, server.url)
        server.stop()
        for context, transport in zip(contexts, STATE_TRANSPORTS):
            page = context.pages[0]
            page.wait_for_selector('body[data-state="closed"]', timeout=10000)
            assert page.inner_text("#status") == "disconnected", transport
            assert "disconnected (1001 Server shutting down)" in page.inner_text("#log"), transport
        assert server.process.returncode == 0, server.log()
        assert "Traceback" not in server.log()
    finally:
        for context in contexts:
            context.close()
        server.stop()


def test_vanished_server_shows_as_closed(chromium: Any) -> None:
    """
    SIGKILL (no close frame): within 12 s of unanswered pings (+ one ping
    period) every page says the server is not answering or disconnected.
    """
    server = Server(
        [sys.executable, os.path.join(REPO, "examples", "chat", "server.py"), "--port", "0"], "chat"
    )
    contexts = []
    try:
        contexts = open_pages(chromium, server.url)
        server.process.kill()
        server.process.wait(10)
        for context, transport in zip(contexts, STATE_TRANSPORTS):
            page = context.pages[0]
            page.wait_for_selector('body[data-state="closed"]', timeout=25000)
            assert page.inner_text("#status") in ("disconnected", "server not answering"), transport
    finally:
        for context in contexts:
            context.close()
        server.stop()
