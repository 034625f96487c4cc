"""A pyftpdlib server for the real-peer tests and the transcript recorder.

Anonymous login, read-only root, a writable `upload/` directory. Prints one line
`READY <port> <pyftpdlib version>` on stdout once it accepts connections, then serves until
SIGTERM. Used by scripts/record-transcripts.py (loopback) and test/interop (inside the server
network namespace).
"""

import argparse
import logging
import os
import signal
import sys

import pyftpdlib
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def _terminate(*_args: object) -> None:
    # serve_forever(handle_exit=True) turns SystemExit into a clean shutdown.
    raise SystemExit(0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--root", required=True)
    ap.add_argument("--passive-ports", default="")
    ap.add_argument("--masquerade", default="")
    args = ap.parse_args()

    logging.basicConfig(level=logging.WARNING)
    authorizer = DummyAuthorizer()
    authorizer.add_anonymous(args.root, perm="elr")
    upload = os.path.join(args.root, "upload")
    if os.path.isdir(upload):
        authorizer.override_perm("anonymous", upload, perm="elradfmw", recursive=True)

    class Handler(FTPHandler):
        pass

    Handler.authorizer = authorizer
    Handler.banner = "pyftpdlib %s ready." % pyftpdlib.__ver__
    if args.passive_ports:
        lo, hi = (int(x) for x in args.passive_ports.split("-"))
        Handler.passive_ports = list(range(lo, hi + 1))
    if args.masquerade:
        Handler.masquerade_address = args.masquerade

    server = FTPServer((args.host, args.port), Handler)
    port = server.socket.getsockname()[1]
    signal.signal(signal.SIGTERM, _terminate)
    print("READY %d %s" % (port, pyftpdlib.__ver__), flush=True)
    try:
        server.serve_forever(handle_exit=True)
    finally:
        server.close_all()


if __name__ == "__main__":
    sys.exit(main())
