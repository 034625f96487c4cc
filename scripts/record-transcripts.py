#!/usr/bin/env python3
"""Record golden FTP control-channel transcripts between real clients and real servers.

Usage (as root, on a machine with vsftpd, pyftpdlib, curl and lftp):
    /usr/bin/python3 scripts/record-transcripts.py [--out test/fixtures/transcripts] [--only SUBSTR]

For every (server, client, mode, IP version) cell, this starts the server on loopback, puts a
recording TCP relay between the client and the server's control port, runs the client through a
session (FEAT/HELP multi-line replies, LIST, RETR, STOR, and a RETR of a missing file as the error
case) and writes test/fixtures/transcripts/<server>-<client>-<mode>-<ipv>.json:

    { "server": "vsftpd 3.0.3", "client": "curl 7.88.1 --ftp-pasv", "clientAddress": "127.0.0.1",
      "serverAddress": "127.0.0.1", "chunks": [ { "dir": "c2s" | "s2c", "data": "<base64>" } ] }

The relay forwards bytes unchanged and logs every chunk exactly as read (one recv() = one chunk),
both directions in one thread so the order of the log is the order of the reads. Only the control
channel passes through it: passive replies name the server itself (pasv_address / masquerade) and
active commands name the client's own loopback address, so data connections go direct on loopback
and the recorded lines are what these peers really send.
"""

import argparse
import base64
import hashlib
import json
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PYFTPD = os.path.join(REPO, "test", "interop", "servers", "pyftpd_server.py")

HELLO = b"hello from the golden transcript recorder\r\n"
DATA = hashlib.sha256(b"nat-alg").digest() * 2048  # 64 KiB, deterministic
UPLOAD = b"uploaded by the transcript recorder\n" * 100


# ---------------------------------------------------------------------------------------------
# The recording relay


class RecordingRelay:
    """Accepts control connections on `host`:0 and forwards each to the upstream, logging chunks."""

    def __init__(self, host: str, upstream: tuple):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.upstream = upstream
        self.family = family
        self.sessions = []  # one list of chunks per accepted control connection
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.listener, selectors.EVENT_READ, None)
        open_pairs = 0
        while not self._stop or open_pairs:
            for key, _ in sel.select(timeout=0.1):
                if key.data is None:
                    client, _ = self.listener.accept()
                    server = socket.create_connection(self.upstream)
                    chunks = []
                    self.sessions.append(chunks)
                    state = {"open": 2}
                    sel.register(client, selectors.EVENT_READ, (client, server, "c2s", chunks, state))
                    sel.register(server, selectors.EVENT_READ, (server, client, "s2c", chunks, state))
                    open_pairs += 1
                    continue
                src, dst, direction, chunks, state = key.data
                try:
                    data = src.recv(65536)
                except ConnectionResetError:
                    data = b""
                if data:
                    chunks.append({"dir": direction, "data": base64.b64encode(data).decode("ascii")})
                    try:
                        dst.sendall(data)
                    except OSError:
                        pass
                    continue
                # End of stream on one side: pass the half-close on, close when both are done.
                sel.unregister(src)
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                state["open"] -= 1
                if state["open"] == 0:
                    src.close()
                    dst.close()
                    open_pairs -= 1
        sel.close()

    def stop(self) -> None:
        # Let pending closes finish; the client has exited by now.
        time.sleep(0.2)
        self._stop = True
        self._thread.join(timeout=5)
        self.listener.close()


# ---------------------------------------------------------------------------------------------
# Servers


def free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_listening(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1) as s:
                s.recv(1024)  # read the banner so the server sees an orderly session
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen on %s port %d" % (host, port))


def make_root(tmp: str) -> str:
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "upload"))
    with open(os.path.join(root, "hello.txt"), "wb") as f:
        f.write(HELLO)
    with open(os.path.join(root, "data.bin"), "wb") as f:
        f.write(DATA)
    os.chmod(root, 0o755)
    os.chmod(os.path.join(root, "hello.txt"), 0o644)
    os.chmod(os.path.join(root, "data.bin"), 0o644)
    # vsftpd refuses a writable chroot; uploads go to a subdirectory owned by the ftp user.
    os.chmod(os.path.join(root, "upload"), 0o777)
    try:
        shutil.chown(os.path.join(root, "upload"), user="ftp")
    except (LookupError, PermissionError):
        pass
    return root


def vsftpd_version() -> str:
    # vsftpd prints its version on file descriptor 0, so hand it the write end of a pipe there.
    r, w = os.pipe()
    subprocess.run(["vsftpd", "-v"], stdin=w)
    os.close(w)
    text = os.read(r, 200).decode(errors="replace")
    os.close(r)
    return "vsftpd " + text.strip().split()[-1]


def start_vsftpd(tmp: str, root: str, host: str):
    port = free_port(host)
    pasv_lo = 40000 + (os.getpid() % 500) * 20
    empty = os.path.join(tmp, "empty")
    os.makedirs(empty, exist_ok=True)
    os.chmod(empty, 0o755)
    ipv6 = ":" in host
    conf = [
        "listen=%s" % ("NO" if ipv6 else "YES"),
        "listen_ipv6=%s" % ("YES" if ipv6 else "NO"),
        ("listen_address6=%s" if ipv6 else "listen_address=%s") % host,
        "listen_port=%d" % port,
        "background=NO",
        "seccomp_sandbox=NO",
        "isolate=NO",
        "isolate_network=NO",
        "anonymous_enable=YES",
        "local_enable=NO",
        "no_anon_password=YES",
        "anon_root=%s" % root,
        "ftp_username=ftp",
        "write_enable=YES",
        "anon_upload_enable=YES",
        "anon_world_readable_only=YES",
        "secure_chroot_dir=%s" % empty,
        "pasv_enable=YES",
        "port_enable=YES",
        "connect_from_port_20=NO",
        "pasv_min_port=%d" % pasv_lo,
        "pasv_max_port=%d" % (pasv_lo + 19),
        "xferlog_enable=NO",
        "syslog_enable=NO",
        "dirmessage_enable=NO",
        "use_localtime=NO",
    ]
    if not ipv6:
        conf.append("pasv_address=%s" % host)
    path = os.path.join(tmp, "vsftpd-%s.conf" % ("6" if ipv6 else "4"))
    with open(path, "w") as f:
        f.write("\n".join(conf) + "\n")
    proc = subprocess.Popen(["vsftpd", path], stdin=subprocess.DEVNULL)
    wait_listening(host, port)
    return proc, port, vsftpd_version()


def python_with_pyftpdlib() -> str:
    for candidate in (sys.executable, "/usr/bin/python3", shutil.which("python3") or ""):
        if candidate and subprocess.run([candidate, "-c", "import pyftpdlib"],
                                        capture_output=True).returncode == 0:
            return candidate
    raise RuntimeError("no python3 with pyftpdlib found")


def start_pyftpdlib(tmp: str, root: str, host: str):
    pasv_lo = 41000 + (os.getpid() % 500) * 20
    args = [python_with_pyftpdlib(), PYFTPD, "--host", host, "--root", root,
            "--passive-ports", "%d-%d" % (pasv_lo, pasv_lo + 19)]
    if ":" not in host:
        args += ["--masquerade", host]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    line = proc.stdout.readline().decode().split()
    if not line or line[0] != "READY":
        raise RuntimeError("pyftpdlib did not start")
    return proc, int(line[1]), "pyftpdlib " + line[2]


# ---------------------------------------------------------------------------------------------
# Clients: each returns (description, argv) for a session against `url_host`:`port`.

CURL_MODES = {
    "epsv": ["--ftp-pasv"],
    "pasv": ["--ftp-pasv", "--disable-epsv"],
    "eprt": ["--ftp-port", "-"],
    "port": ["--ftp-port", "-", "--disable-eprt"],
}


def curl_version() -> str:
    return subprocess.run(["curl", "--version"], capture_output=True).stdout.decode().split()[1]


def curl_session(mode: str, url_host: str, port: int, work: str, server: str):
    flags = CURL_MODES[mode]
    base = "ftp://%s:%d/" % (url_host, port)
    common = ["-sS", "--max-time", "20"] + flags
    # One curl run, several transfers: curl keeps the control connection across --next.
    argv = (["curl"] + common + ["-Q", "HELP", base, "-o", os.path.join(work, "list.out")]
            + ["--next"] + common + [base + "hello.txt", "-o", os.path.join(work, "hello.out")]
            + ["--next"] + common + ["-T", os.path.join(work, "up.txt"), base + "upload/up-curl-%s.txt" % mode]
            + ["--next"] + common + [base + "missing.txt", "-o", os.path.join(work, "missing.out")])
    return "curl %s %s" % (curl_version(), " ".join(flags)), argv


def lftp_session(mode: str, url_host: str, port: int, work: str, server: str):
    passive = "on" if mode == "passive" else "off"
    settings = ["set ftp:passive-mode %s" % passive]
    script = "; ".join(settings + [
        "set net:max-retries 1",
        "set net:timeout 10",
        "set cmd:fail-exit no",
        "open -u anonymous,lftp@ ftp://%s:%d" % (url_host, port),
        "cls -l",
        "get hello.txt -o %s" % os.path.join(work, "hello.out"),
        "put %s -o upload/up-lftp-%s.txt" % (os.path.join(work, "up.txt"), mode),
        "quote HELP",
        "get missing.txt -o %s" % os.path.join(work, "missing.out"),
        "bye",
    ])
    version = subprocess.run(["lftp", "--version"], capture_output=True).stdout.decode().split("|")[1]
    desc = "lftp %s %s" % (version.split()[-1], ", ".join(x[4:] for x in settings))
    return desc, ["lftp", "-c", script]


FTPLIB_CLIENT = r"""
import ftplib, io, sys
host, port, mode, work = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
f = ftplib.FTP(timeout=20)
f.connect(host, port)
f.login()
f.set_pasv(mode == "passive")
f.sendcmd("FEAT")
f.sendcmd("SYST")
lines = []
f.retrlines("LIST", lines.append)
buf = io.BytesIO()
f.retrbinary("RETR data.bin", buf.write)
open(work + "/data.out", "wb").write(buf.getvalue())
f.storbinary("STOR upload/up-ftplib-" + mode + ".txt", open(work + "/up.txt", "rb"))
try:
    f.retrbinary("RETR missing.txt", lambda b: None)
except ftplib.error_perm as e:
    print("expected error:", e)
f.quit()
"""


def ftplib_session(mode: str, url_host: str, port: int, work: str, server: str):
    host = url_host.strip("[]")
    py = sys.executable or "python3"
    desc = "python3 %s ftplib %s" % (".".join(map(str, sys.version_info[:3])), mode)
    return desc, [py, "-c", FTPLIB_CLIENT, host, str(port), mode, work]


CLIENTS = {
    "curl": (curl_session, {"4": ["epsv", "pasv", "eprt", "port"], "6": ["epsv", "eprt"]}),
    "lftp": (lftp_session, {"4": ["passive", "active"], "6": ["passive", "active"]}),
    "ftplib": (ftplib_session, {"4": ["passive", "active"], "6": ["passive", "active"]}),
}

# lftp 4.9 names the unspecified address in active IPv6 (`EPRT |2|::|port|`, kept in the vsftpd
# transcript, which accepts it); pyftpdlib refuses that as a foreign address and lftp falls back to
# passive on a second control connection, so there is no single-session transcript to keep.
SKIP = {"pyftpdlib-lftp-active-ipv6": "lftp sends EPRT |2|::|port|, which pyftpdlib refuses"}

# What each client must have fetched for the session to count (the error case fails on purpose).
EXPECTED = {"curl": {"hello.out": HELLO}, "lftp": {"hello.out": HELLO}, "ftplib": {"data.out": DATA}}


def record(server_name: str, start, ipv: str, out_dir: str, only: str) -> int:
    host = "::1" if ipv == "6" else "127.0.0.1"
    url_host = "[::1]" if ipv == "6" else host
    written = 0
    with tempfile.TemporaryDirectory(prefix="nat-alg-rec-") as tmp:
        os.chmod(tmp, 0o755)
        root = make_root(tmp)
        proc, port, server_desc = start(tmp, root, host)
        try:
            for client_name, (session, modes) in CLIENTS.items():
                for mode in modes[ipv]:
                    name = "%s-%s-%s-ipv%s" % (server_name, client_name, mode, ipv)
                    if only and only not in name:
                        continue
                    if name in SKIP:
                        print("skipped %s: %s" % (name, SKIP[name]))
                        continue
                    work = tempfile.mkdtemp(prefix="work-", dir=tmp)
                    with open(os.path.join(work, "up.txt"), "wb") as f:
                        f.write(UPLOAD)
                    relay = RecordingRelay(host, (host, port))
                    desc, argv = session(mode, url_host, relay.port, work, server_name)
                    result = subprocess.run(argv, capture_output=True, timeout=60)
                    relay.stop()
                    for fname, want in EXPECTED[client_name].items():
                        path = os.path.join(work, fname)
                        got = open(path, "rb").read() if os.path.exists(path) else None
                        if got != want:
                            sys.stderr.write("%s: %s wrong or missing; client said:\n%s%s\n" % (
                                name, fname, result.stdout.decode(errors="replace"),
                                result.stderr.decode(errors="replace")))
                            raise SystemExit(1)
                    uploaded = os.path.join(root, "upload", "up-%s-%s.txt" % (client_name, mode))
                    if not os.path.exists(uploaded) or open(uploaded, "rb").read() != UPLOAD:
                        raise SystemExit("%s: the upload did not arrive intact" % name)
                    if len(relay.sessions) != 1:
                        raise SystemExit("%s: expected 1 control connection, saw %d" % (
                            name, len(relay.sessions)))
                    transcript = {
                        "server": server_desc,
                        "client": desc,
                        "clientAddress": host,
                        "serverAddress": host,
                        "chunks": relay.sessions[0],
                    }
                    with open(os.path.join(out_dir, name + ".json"), "w") as f:
                        json.dump(transcript, f, indent=1)
                        f.write("\n")
                    print("recorded %s (%d chunks)" % (name, len(relay.sessions[0])))
                    written += 1
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return written


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(REPO, "test", "fixtures", "transcripts"))
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    total = 0
    for server_name, start in (("vsftpd", start_vsftpd), ("pyftpdlib", start_pyftpdlib)):
        for ipv in ("4", "6"):
            total += record(server_name, start, ipv, args.out, args.only)
    print("%d transcripts written to %s" % (total, args.out))


if __name__ == "__main__":
    main()
