#!/usr/bin/env python3
"""Hold N idle HTTP/1.1 keep-alive connections open against a server.

Used by bench/proxy.sh to measure a server's resident memory with many idle
client connections. Standard library only.

    idle_conns.py HOST PORT COUNT READY_FILE RELEASE_FILE

1. Opens COUNT TCP connections to HOST:PORT.
2. On each, sends one `GET / HTTP/1.1` request and reads the whole response
   (Content-Length or chunked), leaving the connection open (keep-alive).
3. Writes a one-line summary to READY_FILE (atomically), then waits until
   RELEASE_FILE exists (at most --hold seconds, default 300).
4. Counts how many connections the server has closed in the meantime, prints
   a summary line on stdout, and closes everything.

Exit status: 0 when every request got a 2xx response, 1 otherwise.
"""

import argparse
import os
import select
import socket
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: authgate-bench-idle\r\n\r\n"


def read_response(sock):
    """Read one HTTP/1.1 response; return its status code."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before response headers")
        buf += chunk
        if len(buf) > 1 << 20:
            raise ConnectionError("response headers too large")
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        raise ConnectionError("bad status line: %r" % lines[0][:80])
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        if b":" in line:
            k, v = line.split(b":", 1)
            headers[k.strip().lower()] = v.strip()
    if b"content-length" in headers:
        need = int(headers[b"content-length"])
        while len(body) < need:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed inside the body")
            body += chunk
    elif b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        while not (body.endswith(b"\r\n0\r\n\r\n") or body == b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed inside a chunked body")
            body += chunk
    elif status not in (204, 304) and not 100 <= status < 200:
        raise ConnectionError("response without a length: not keep-alive")
    return status


def count_closed(socks):
    """How many of socks the peer has closed (readable and recv -> EOF/error)."""
    closed = 0
    for i in range(0, len(socks), 500):
        batch = socks[i:i + 500]
        # poll() has no FD_SETSIZE limit, unlike select()
        poller = select.poll()
        for s in batch:
            poller.register(s, select.POLLIN | select.POLLERR | select.POLLHUP)
        for fd, _ev in poller.poll(0):
            s = next(x for x in batch if x.fileno() == fd)
            try:
                s.setblocking(False)
                data = s.recv(1, socket.MSG_PEEK)
                if not data:
                    closed += 1
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
    return closed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("count", type=int)
    ap.add_argument("ready_file")
    ap.add_argument("release_file")
    ap.add_argument("--hold", type=float, default=300.0,
                    help="give up waiting for RELEASE_FILE after this many seconds")
    args = ap.parse_args()

    socks = []
    statuses = {}
    errors = 0
    first_error = None
    t0 = time.monotonic()
    for _ in range(args.count):
        try:
            s = socket.create_connection((args.host, args.port), timeout=10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(REQUEST)
            st = read_response(s)
            statuses[st] = statuses.get(st, 0) + 1
            socks.append(s)
        except (OSError, ValueError) as e:
            errors += 1
            if first_error is None:
                first_error = repr(e)
    elapsed = time.monotonic() - t0
    ok = sum(n for st, n in statuses.items() if 200 <= st < 300)
    status_txt = ",".join("%d:%d" % kv for kv in sorted(statuses.items())) or "none"
    summary = ("opened=%d ok_2xx=%d statuses=%s errors=%d setup_s=%.2f%s"
               % (len(socks), ok, status_txt, errors, elapsed,
                  (" first_error=" + first_error) if first_error else ""))
    tmp = args.ready_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(summary + "\n")
    os.rename(tmp, args.ready_file)

    deadline = time.monotonic() + args.hold
    while not os.path.exists(args.release_file) and time.monotonic() < deadline:
        time.sleep(0.05)

    closed = count_closed(socks)
    print("%s closed_by_server_while_idle=%d" % (summary, closed))
    for s in socks:
        try:
            s.close()
        except OSError:
            pass
    return 0 if (errors == 0 and ok == args.count) else 1


if __name__ == "__main__":
    sys.exit(main())
