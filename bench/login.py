#!/usr/bin/env python3
"""Browser sign-ins against authgate, as curl or a browser would do them. Stdlib only.

Used by bench/auth.sh, both to get a session cookie for the session-route benchmark and to
generate a steady stream of logins while the proxy is measured.

    login.py once  BASE_URL PATH USER PASSWORD
    login.py drive BASE_URL PATH USER PASSWORD RATE READY_FILE STOP_FILE

One sign-in, on one keep-alive connection, with its own cookies (nothing carried over from
an earlier sign-in, so the login page is shown every time):

 1. GET PATH with `Accept: text/html` (PATH is on an `auth = "session"` route)
    -> 302 to /oauth2/authorize?... and the signed flow cookie
 2. GET /oauth2/authorize?...  -> 200 login page, the `__Host-authgate-csrf` cookie, and the
    hidden `csrf` and `request` inputs
 3. POST /oauth2/login (csrf, request, username, password) -> 303: the argon2id check
 4. GET the 303's Location (/oauth2/authorize?...) -> 302 to PUBLIC_URL/oauth2/callback?code=...
 5. GET the callback -> 303 back to PATH with `Set-Cookie: __Host-authgate-session=...`

Cookies are kept by hand (they are `Secure`, and this is plain HTTP): every Set-Cookie
is stored by name, `Max-Age=0` or an empty value removes it, and all are sent back.

`once` prints the session cookie value (the part after `__Host-authgate-session=`);
exit status 1 with a message on stderr when any step answers something unexpected.

`drive` first does one sign-in (to fail early, exit status 2), then creates READY_FILE and
starts a sign-in every 1/RATE seconds on a thread pool (so that a slow login does not
delay the next one) until STOP_FILE exists (or --max-seconds pass). It then waits for the
sign-ins still running and prints one line of key=value pairs:

    window_s  started  started_per_s  login_303  login_303_per_s  sessions  failed
    late_starts  post_p50_ms  post_p99_ms  signin_p50_ms  signin_p99_ms  first_error

`login_303` counts POST /oauth2/login answered 303 (password accepted), `sessions` the
sign-ins that ended with a session cookie; both only for sign-ins started within the
window. `late_starts` counts sign-ins that began more than 50 ms after their slot (the
thread pool was exhausted). `post_*` is the latency of step 3, `signin_*` of steps 1-5.
"""

import argparse
import html
import http.client
import os
import re
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

SESSION_COOKIE = "__Host-authgate-session"


class SignInError(Exception):
    pass


class Browser:
    """One sign-in: a keep-alive connection and a cookie jar."""

    def __init__(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)
        self.jar = {}

    def close(self):
        self.conn.close()

    def request(self, method, target, body=None, headers=None):
        hdrs = {"User-Agent": "authgate-bench-login", "Accept": "text/html"}
        if self.jar:
            hdrs["Cookie"] = "; ".join("%s=%s" % kv for kv in self.jar.items())
        if body is not None:
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        hdrs.update(headers or {})
        for attempt in (0, 1):
            try:
                self.conn.request(method, target, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed the idle keep-alive connection: reconnect once.
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                if attempt:
                    raise
        for sc in resp.msg.get_all("Set-Cookie") or []:
            first, _, attrs = sc.partition(";")
            name, _, value = first.strip().partition("=")
            if not value or re.search(r"(?i)max-age=0(\D|$)", attrs):
                self.jar.pop(name, None)
            else:
                self.jar[name] = value
        return resp.status, resp.getheader("Location"), data


def local_target(location):
    """Path and query of a Location (absolute URLs point at the gateway itself here)."""
    u = urllib.parse.urlsplit(location)
    return u.path + ("?" + u.query if u.query else "")


def hidden_input(page, name):
    m = re.search(r'<input type="hidden" name="%s" value="([^"]*)"' % re.escape(name), page)
    if not m:
        raise SignInError("login page has no hidden '%s' input" % name)
    return html.unescape(m.group(1))


def expect(step, status, want, location=None):
    if status != want:
        raise SignInError("%s: HTTP %d, expected %d" % (step, status, want))
    if want in (302, 303) and not location:
        raise SignInError("%s: %d without Location" % (step, status))


def sign_in(host, port, path, user, password, timeout=30.0):
    """Returns (post_status, post_seconds, session_cookie_value)."""
    b = Browser(host, port, timeout)
    try:
        st, loc, _ = b.request("GET", path)
        expect("GET " + path, st, 302, loc)
        if not local_target(loc).startswith("/oauth2/authorize?"):
            raise SignInError("GET %s redirected to %s, not /oauth2/authorize" % (path, loc))
        st, _, page = b.request("GET", local_target(loc))
        expect("GET /oauth2/authorize (login page)", st, 200)
        page = page.decode("utf-8", "replace")
        form = urllib.parse.urlencode({
            "csrf": hidden_input(page, "csrf"),
            "request": hidden_input(page, "request"),
            "username": user,
            "password": password,
        })
        t0 = time.monotonic()
        post_st, loc, _ = b.request("POST", "/oauth2/login", body=form)
        post_s = time.monotonic() - t0
        expect("POST /oauth2/login", post_st, 303, loc)
        st, loc, _ = b.request("GET", local_target(loc))
        expect("GET /oauth2/authorize (after login)", st, 302, loc)
        if "/oauth2/callback?" not in loc:
            raise SignInError("authorize redirected to %s, not the callback" % loc)
        st, loc, _ = b.request("GET", local_target(loc))
        expect("GET /oauth2/callback", st, 303, loc)
        sid = b.jar.get(SESSION_COOKIE)
        if not sid:
            raise SignInError("callback set no %s cookie" % SESSION_COOKIE)
        return post_st, post_s, sid
    finally:
        b.close()


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))]


def drive(host, port, path, user, password, rate, ready, stop, max_seconds, workers):
    try:
        sign_in(host, port, path, user, password)
    except Exception as e:  # noqa: BLE001 - report anything
        print("first sign-in failed: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 2
    lock = threading.Lock()
    results = []  # (started_in_window, post_status, post_s, signin_s, session_ok, error)
    late = [0]
    window = [None, None]  # start, stop (monotonic)

    def one(slot):
        t0 = time.monotonic()
        if t0 - slot > 0.05:
            with lock:
                late[0] += 1
        try:
            post_st, post_s, sid = sign_in(host, port, path, user, password)
            r = (post_st, post_s, time.monotonic() - t0, bool(sid), None)
        except SignInError as e:
            r = (None, None, time.monotonic() - t0, False, str(e))
        except Exception as e:  # noqa: BLE001
            r = (None, None, time.monotonic() - t0, False, "%s: %s" % (type(e).__name__, e))
        in_window = window[1] is None or t0 < window[1]
        with lock:
            results.append((in_window,) + r)

    with open(ready + ".tmp", "w") as f:
        f.write("ready\n")
    os.replace(ready + ".tmp", ready)
    interval = 1.0 / rate
    pool = ThreadPoolExecutor(max_workers=workers)
    start = time.monotonic()
    window[0] = start
    i = 0
    while True:
        slot = start + i * interval
        now = time.monotonic()
        if slot > now:
            time.sleep(slot - now)
        if os.path.exists(stop) or time.monotonic() - start > max_seconds:
            break
        pool.submit(one, slot)
        i += 1
    window[1] = time.monotonic()
    pool.shutdown(wait=True)
    span = window[1] - window[0]
    mine = [r for r in results if r[0]]
    ok303 = [r for r in mine if r[1] == 303]
    errors = [r[5] for r in mine if r[5]]
    posts = [r[2] * 1000 for r in ok303]
    signins = [r[3] * 1000 for r in mine if r[4]]
    print(" ".join([
        "window_s=%.2f" % span,
        "started=%d" % len(mine),
        "started_per_s=%.2f" % (len(mine) / span if span else 0),
        "login_303=%d" % len(ok303),
        "login_303_per_s=%.2f" % (len(ok303) / span if span else 0),
        "sessions=%d" % sum(1 for r in mine if r[4]),
        "failed=%d" % (len(mine) - sum(1 for r in mine if r[4])),
        "late_starts=%d" % late[0],
        "post_p50_ms=%.1f" % pct(posts, 50),
        "post_p99_ms=%.1f" % pct(posts, 99),
        "signin_p50_ms=%.1f" % pct(signins, 50),
        "signin_p99_ms=%.1f" % pct(signins, 99),
        "first_error=%s" % (errors[0].replace(" ", "_") if errors else "-"),
    ]))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["once", "drive"])
    ap.add_argument("base_url")
    ap.add_argument("path")
    ap.add_argument("user")
    ap.add_argument("password")
    ap.add_argument("rate", nargs="?", type=float)
    ap.add_argument("ready_file", nargs="?")
    ap.add_argument("stop_file", nargs="?")
    ap.add_argument("--max-seconds", type=float, default=600.0)
    ap.add_argument("--workers", type=int, default=32)
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.base_url)
    if u.scheme != "http" or not u.hostname:
        ap.error("BASE_URL must be http://HOST:PORT")
    host, port = u.hostname, u.port or 80
    if a.command == "once":
        try:
            _, _, sid = sign_in(host, port, a.path, a.user, a.password)
        except Exception as e:  # noqa: BLE001
            print("sign-in failed: %s: %s" % (type(e).__name__, e), file=sys.stderr)
            return 1
        print(sid)
        return 0
    if a.rate is None or a.rate <= 0 or not a.ready_file or not a.stop_file:
        ap.error("drive needs RATE > 0, READY_FILE and STOP_FILE")
    return drive(host, port, a.path, a.user, a.password, a.rate, a.ready_file,
                 a.stop_file, a.max_seconds, a.workers)


if __name__ == "__main__":
    sys.exit(main())
