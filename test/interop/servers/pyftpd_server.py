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
    # A server that answers passive commands in the wrong format (for the hostile-server tests):
    #   epsv-as-pasv   EPSV is answered with a 227 (its real passive address and port)
    #   pasv-as-epsv   PASV is answered with a 229
    #   epsv-low-port  EPSV is answered with a 227 naming its own address and port 22
    ap.add_argument("--misbehave", default="", choices=["", "epsv-as-pasv", "pasv-as-epsv", "epsv-low-port"])
    args = ap.parse_args()

    logging.basicConfig(level=logging.WARNING)
    authorizer = DummyAuthorizer()
    authorizer.add_anonymous(args.root, perm="elr")
    upload = os.path.join(args.root, "upload")
    if os.path.isdir(upload):
        authorizer.override_perm("anonymous", upload, perm="elradfmw", recursive=True)

    class Handler(FTPHandler):
        def ftp_EPSV(self, line):
            if args.misbehave == "epsv-as-pasv":
                return FTPHandler.ftp_PASV(self, line)
            if args.misbehave == "epsv-low-port":
                host = self.socket.getsockname()[0].replace(".", ",")
                return self.respond("227 Entering Passive Mode (%s,0,22)." % host)
            return FTPHandler.ftp_EPSV(self, line)

        def ftp_PASV(self, line):
            if args.misbehave == "pasv-as-epsv":
                return FTPHandler.ftp_EPSV(self, line)
            return FTPHandler.ftp_PASV(self, line)

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
