"""aiohttp-sockjs (PyPI sockjs 0.13.0) peer for the txsockjs benchmark: /echo and /broadcast on 127.0.0.1.

Usage: python aiohttp_sockjs_server.py --port PORT
"""
import argparse
import logging

import sockjs
from aiohttp import web


def echo(manager, session, msg):
    if msg.type == sockjs.MsgType.MESSAGE:
        session.send(msg.data)


def broadcast(manager, session, msg):
    if msg.type == sockjs.MsgType.MESSAGE:
        manager.broadcast(msg.data)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    app = web.Application()
    sockjs.add_endpoint(app, echo, name="echo", prefix="/echo", cookie_needed=False)
    sockjs.add_endpoint(app, broadcast, name="broadcast", prefix="/broadcast", cookie_needed=False)
    print("listening on 127.0.0.1:%d" % args.port, flush=True)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
