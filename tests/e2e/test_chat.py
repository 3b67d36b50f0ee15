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
