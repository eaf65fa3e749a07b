#!/usr/bin/env python3
"""A browser sign-in through an upstream OpenID provider (tests/idp/idp.mjs, panva's
oidc-provider), for the benchmarks of federated people's routes. Stdlib only; the cookie
jars and keep-alive connections are login.py's.

    federated_login.py BASE_URL PUBLIC_URL PATH BUTTON SUB
    federated_login.py --token CLIENT REDIRECT_URI SCOPE BASE_URL PUBLIC_URL provider BUTTON SUB
    federated_login.py --token CLIENT REDIRECT_URI SCOPE BASE_URL PUBLIC_URL password USER PASSWORD

The first form prints a route session's cookie value (below). `--token` prints an access
token of the person for CLIENT (a first-party public client: no consent), from the code
flow with PKCE S256, signed in through the provider or with the password form.

1. GET PATH (a session route) -> 302 /oauth2/authorize -> the login page
2. the link of the button whose text holds BUTTON ("Sign in with NAME") -> 302 to the
   provider, with the gateway's flow cookie
3. at the provider: its development login form (login = SUB, any password), then its consent
   form, following its redirects until one goes to PUBLIC_URL/oauth2/callback/ID
4. that callback on the gateway -> 303 -> /oauth2/authorize (resumed) -> 302 to
   /oauth2/callback -> 303 with the session cookie

Prints the session cookie's value; exit status 1 with a message when a step answers
something unexpected.
"""

import html
import re
import sys
import urllib.parse

from login import SESSION_COOKIE, Browser, SignInError, expect, local_target


def provider_link(page, button):
    for href, text in re.findall(r'<a class="button" href="([^"]+)">([^<]*)</a>', page):
        if button in html.unescape(text):
            return html.unescape(href)
    raise SignInError("the login page has no button %r" % button)


def form_of(page):
    """(action, fields) of the provider's development form (login or consent)."""
    action = re.search(r'<form[^>]* action="([^"]+)"', page)
    prompt = re.search(r'name="prompt" value="([^"]+)"', page)
    if not action or not prompt:
        raise SignInError("no form at the provider: %s" % page[:300])
    return html.unescape(action.group(1)), prompt.group(1)


def at_provider(authorize_url, public_url, sub):
    """Signs in at the provider; returns the callback URL it sends the browser to."""
    u = urllib.parse.urlsplit(authorize_url)
    idp = Browser(u.hostname, u.port, 30.0)
    try:
        st, loc, body = idp.request("GET", local_target(authorize_url))
        for _ in range(20):
            if st in (302, 303):
                if loc.startswith(public_url):
                    return loc
                target = urllib.parse.urljoin(authorize_url, loc)
                st, loc, body = idp.request("GET", local_target(target))
                continue
            expect("a page of the provider", st, 200)
            action, prompt = form_of(body.decode("utf-8", "replace"))
            fields = {"prompt": prompt}
            if prompt == "login":
                fields.update(login=sub, password="any password")
            st, loc, body = idp.request(
                "POST", action, body=urllib.parse.urlencode(fields),
                headers={"Origin": "%s://%s" % (u.scheme, u.netloc)})
        raise SignInError("the provider never sent the browser back")
    finally:
        idp.close()


def sign_in(base_url, public_url, path, button, sub):
    g = urllib.parse.urlsplit(base_url)
    gw = Browser(g.hostname, g.port, 60.0)
    try:
        st, loc, _ = gw.request("GET", path)
        expect("GET " + path, st, 302, loc)
        st, _, page = gw.request("GET", local_target(loc))
        expect("GET /oauth2/authorize (login page)", st, 200)
        start = provider_link(page.decode("utf-8", "replace"), button)
        st, loc, _ = gw.request("GET", start)
        expect("GET " + start.split("?")[0], st, 302, loc)
        callback = at_provider(loc, public_url, sub)
        st, loc, _ = gw.request("GET", local_target(callback))
        expect("GET the provider's callback", st, 303, loc)
        st, loc, _ = gw.request("GET", local_target(loc))
        expect("GET /oauth2/authorize (resumed)", st, 302, loc)
        st, loc, _ = gw.request("GET", local_target(loc))
        expect("GET /oauth2/callback", st, 303, loc)
        sid = gw.jar.get(SESSION_COOKIE)
        if not sid:
            raise SignInError("no %s cookie" % SESSION_COOKIE)
        return sid
    finally:
        gw.close()


def access_token(client, redirect_uri, scope, base_url, public_url, how, *who):
    import base64
    import hashlib
    import json
    import secrets
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": client, "redirect_uri": redirect_uri,
        "scope": scope, "state": "bench", "code_challenge": challenge,
        "code_challenge_method": "S256"})
    g = urllib.parse.urlsplit(base_url)
    gw = Browser(g.hostname, g.port, 60.0)
    try:
        st, _, page = gw.request("GET", "/oauth2/authorize?" + query)
        expect("GET /oauth2/authorize (login page)", st, 200)
        page = page.decode("utf-8", "replace")
        if how == "provider":
            button, sub = who
            start = provider_link(page, button)
            st, loc, _ = gw.request("GET", start)
            expect("GET " + start.split("?")[0], st, 302, loc)
            st, loc, _ = gw.request("GET", local_target(at_provider(loc, public_url, sub)))
            expect("GET the provider's callback", st, 303, loc)
        else:
            from login import hidden_input
            user, password = who
            form = urllib.parse.urlencode({
                "csrf": hidden_input(page, "csrf"), "request": hidden_input(page, "request"),
                "username": user, "password": password})
            st, loc, _ = gw.request("POST", "/oauth2/login", body=form)
            expect("POST /oauth2/login", st, 303, loc)
        st, loc, _ = gw.request("GET", local_target(loc))
        expect("GET /oauth2/authorize (signed in)", st, 302, loc)
        if not loc.startswith(redirect_uri):
            raise SignInError("authorize sent the browser to %s" % loc)
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))["code"]
        st, _, body = gw.request("POST", "/oauth2/token", body=urllib.parse.urlencode({
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "client_id": client, "code_verifier": verifier}))
        expect("POST /oauth2/token", st, 200)
        return json.loads(body)["access_token"]
    finally:
        gw.close()


if __name__ == "__main__":
    try:
        if sys.argv[1:2] == ["--token"] and len(sys.argv) in (10, 11):
            print(access_token(*sys.argv[2:]))
        elif len(sys.argv) == 6:
            print(sign_in(*sys.argv[1:]))
        else:
            sys.exit(__doc__)
    except (SignInError, OSError, KeyError, ValueError) as e:
        sys.exit("sign-in failed: %s" % e)
