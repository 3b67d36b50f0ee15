"""sockjs-tornado 1.0.7 peer for the txsockjs benchmark: /echo and /broadcast on 127.0.0.1.

Usage: python sockjs_tornado_server.py --port PORT
"""
import argparse
import logging
import signal

import tornado.ioloop
import tornado.web
from sockjs.tornado import SockJSConnection, SockJSRouter


class Echo(SockJSConnection):
    def on_message(self, message):
        self.send(message)


class Broadcast(SockJSConnection):
    members = set()

    def on_open(self, request):
        self.members.add(self)

    def on_message(self, message):
        self.broadcast(self.members, message)

    def on_close(self):
        self.members.discard(self)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    settings = {"response_limit": 4096, "jsessionid": False, "verify_ip": False}
    echo = SockJSRouter(Echo, "/echo", user_settings=settings)
    bcast = SockJSRouter(Broadcast, "/broadcast", user_settings={"jsessionid": False, "verify_ip": False})
    app = tornado.web.Application(echo.urls + bcast.urls)
    app.listen(args.port, address="127.0.0.1")
    loop = tornado.ioloop.IOLoop.current()
    signal.signal(signal.SIGTERM, lambda *a: loop.add_callback_from_signal(loop.stop))
    print("listening on 127.0.0.1:%d" % args.port, flush=True)
    loop.start()


if __name__ == "__main__":
    main()
