#!/usr/bin/env bash
# Instructions per request, counted by callgrind: repeatable for the same binary and inputs
# whatever else the machine is doing (a busy 2-CPU machine makes req/s comparisons noise).
# Compares authgate binaries (before/after a change) on the `auth = "none"` route to an nginx
# upstream, on an `auth = "bearer"` route to the same upstream (one client_credentials token,
# as a client reuses it), on an `auth = "session"` route (/s/, scopes only, as bench/table.sh's:
# a local user's browser session, signed in once with the password form, bench/login.py) and
# on a `static://200` route, with the same wrk load.
#
#   bench/instructions.sh BIN [BIN...]      # e.g. an old and a new target/release/authgate
#   REQUESTS_SECONDS=15 CONNS=10 bench/instructions.sh target/release/authgate
#   ALGORITHM=ES256 bench/instructions.sh target/release/authgate   # [tokens] algorithm
#   SESSIONS=1 bench/instructions.sh target/release/authgate   # + session routes (below)
#   ACCESS_LOG=1 bench/instructions.sh OLD NEW   # [log] access = true: one line per request,
#                                                # to the process's output, redirected to a file
#   KEEP_PROFILES=/tmp/prof bench/instructions.sh BIN   # keeps each round's callgrind dumps
#                                     # (for callgrind_annotate), in /tmp/prof/BINNAME_ROUTE/
#
# SESSIONS=1 adds routes with a group `allow` rule for a local user and a federated person,
# each with a browser session or an access token made before the counted run (they survive
# the restart in data_dir): /ls/ (session, allow group:ops) and /lb/ (bearer, the same) for
# the local user alice (`[[users]] groups = ["ops"]`, signed in with the password form,
# bench/login.py), /fs/ (session, allow group:corp/ops) and /fb/ (bearer, the same) for
# corp:ops-sub, signed in through a real OpenID provider (tests/idp/idp.mjs on node; needs
# `npm ci --prefix tests/idp`; bench/federated_login.py); the tokens are of the first-party
# client bench-portal. The provider is not asked again per request.
#
# Needs valgrind, nginx and wrk (apt-get install -y valgrind nginx wrk).
set -euo pipefail
SECONDS_RUN=${REQUESTS_SECONDS:-10}
CONNS=${CONNS:-10}
ALGORITHM=${ALGORITHM:-}
SESSIONS=${SESSIONS:-}
ACCESS=false
[ -n "${ACCESS_LOG:-}" ] && [ "${ACCESS_LOG}" != 0 ] && ACCESS=true
here=$(cd "$(dirname "$0")" && pwd)
CLIENT_SECRET=bench-secret-$RANDOM$RANDOM
CLIENT_SECRET_SHA=$(printf '%s' "$CLIENT_SECRET" | sha256sum | awk '{print $1}')
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

up=$(free_port)
mkdir -p "$work/up/logs"
cat >"$work/up/nginx.conf" <<NGX
worker_processes 1; error_log $work/up/error.log; pid $work/up/nginx.pid;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$up; location / { return 200 "ok\n"; } } }
NGX
nginx -p "$work/up" -c "$work/up/nginx.conf" -g 'daemon off;' &
sleep 0.5

session_hash=$(printf 'bench-password\n' | "$1" hash-password)
sessions_toml=
if [ -n "$SESSIONS" ]; then
    idp_port=$(free_port)
    idp_secret=bench-idp-$RANDOM$RANDOM
    printf '%s' "$idp_secret" >"$work/idp.secret"
    cat >"$work/idp.json" <<JSON
{"port": $idp_port,
 "clients": [{"client_id": "authgate", "client_secret": "$idp_secret",
              "redirect_uris": ["https://gw.example/oauth2/callback/corp"]}],
 "accounts": {"ops-sub": {"email": "ops@example.com", "email_verified": true, "groups": ["ops"]}}}
JSON
    # idp.mjs exits when its standard input closes: the fifo's other end is this shell's.
    mkfifo "$work/idp.stdin"
    exec 8<>"$work/idp.stdin"
    node "$here/../tests/idp/idp.mjs" "$work/idp.json" <"$work/idp.stdin" >"$work/idp.log" 2>&1 &
    for _ in $(seq 1 100); do grep -q ready "$work/idp.log" && break; sleep 0.2; done
    grep -q ready "$work/idp.log" || { cat "$work/idp.log" >&2; exit 1; }
    sessions_toml=$(cat <<TOML
[[providers]]
id = "corp"
type = "oidc"
name = "Corp"
issuer = "http://127.0.0.1:$idp_port"
client_id = "authgate"
client_secret = "file:$work/idp.secret"
scopes = ["openid", "email", "groups"]
allow_all = true
grant_scopes = ["app"]
[[routes]]
path = "/ls/"
upstream = "http://127.0.0.1:$up"
auth = "session"
allow = ["group:ops"]
[[routes]]
path = "/fs/"
upstream = "http://127.0.0.1:$up"
auth = "session"
allow = ["group:corp/ops"]
[[routes]]
path = "/lb/"
upstream = "http://127.0.0.1:$up"
auth = "bearer"
scopes = ["app"]
allow = ["group:ops"]
[[routes]]
path = "/fb/"
upstream = "http://127.0.0.1:$up"
auth = "bearer"
scopes = ["app"]
allow = ["group:corp/ops"]
[[clients]]
id = "bench-portal"
type = "public"
first_party = true
redirect_uris = ["http://127.0.0.1:9/cb"]
scopes = ["app"]
TOML
)
fi

printf '| binary | route | requests | instructions per request |\n|---|---|---:|---:|\n'
for bin in "$@"; do
    port=$(free_port)
    mkdir -p "$work/gw"
    cat >"$work/gw/gateway.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
public_url = "https://gw.example"
data_dir = "$work/gw/data"
[server.tls]
mode = "off"
[admin]
listen = "off"
[log]
access = $ACCESS
[tokens]
access_ttl = "1h"
${ALGORITHM:+algorithm = \"$ALGORITHM\"}
[scopes]
"api:read" = "Read the benchmark API"
app = "Use the benchmark app"
[[clients]]
id = "bench"
type = "confidential"
secret = "sha256:$CLIENT_SECRET_SHA"
grants = ["client_credentials"]
scopes = ["api:read"]
[[users]]
name = "alice"
password = "$session_hash"
scopes = ["app"]
groups = ["ops"]
$sessions_toml
[[routes]]
path = "/s/"
upstream = "http://127.0.0.1:$up"
auth = "session"
scopes = ["app"]
[[routes]]
path = "/b/"
upstream = "http://127.0.0.1:$up"
auth = "bearer"
scopes = ["api:read"]
[[routes]]
path = "/static/"
upstream = "static://200"
auth = "none"
[[routes]]
path = "/"
upstream = "http://127.0.0.1:$up"
auth = "none"
TOML
    rm -rf "$work/gw/data"
    # One start outside valgrind first: a fresh data_dir gets its signing keys (RSA key
    # generation would take minutes under callgrind), then the counted run reuses them.
    "$bin" serve --config "$work/gw/gateway.toml" >"$work/gw/log" 2>&1 &
    native=$!
    for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.3; done
    # The RS256 Next key is generated just after the start (AFTER_START), off the request
    # path: give it time here, or its generation lands in the first counted round.
    sleep 5
    routes=(/ /b/ /s/ /static/x)
    local_sid=$(python3 "$here/login.py" once "http://127.0.0.1:$port" /s/ alice bench-password)
    if [ -n "$SESSIONS" ]; then
        fed_sid=$(python3 "$here/federated_login.py" "http://127.0.0.1:$port" https://gw.example /fs/ Corp ops-sub)
        portal=(--token bench-portal http://127.0.0.1:9/cb app "http://127.0.0.1:$port" https://gw.example)
        local_token=$(python3 "$here/federated_login.py" "${portal[@]}" password alice bench-password)
        fed_token=$(python3 "$here/federated_login.py" "${portal[@]}" provider Corp ops-sub)
        routes+=(/ls/ /fs/ /lb/ /fb/)
    fi
    kill "$native"; wait "$native" 2>/dev/null || true
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.%p" \
        "$bin" serve --config "$work/gw/gateway.toml" >"$work/gw/log" 2>&1 &
    vg=$!
    for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.3; done
    token=$(curl -sS --max-time 30 -u "bench:$CLIENT_SECRET" -d grant_type=client_credentials \
        "http://127.0.0.1:$port/oauth2/token" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
    for route in "${routes[@]}"; do
        auth=()
        [ "$route" = /b/ ] && auth=(-H "Authorization: Bearer $token")
        [ "$route" = /s/ ] && auth=(-H "Cookie: __Host-authgate-session=$local_sid")
        [ "$route" = /ls/ ] && auth=(-H "Cookie: __Host-authgate-session=$local_sid")
        [ "$route" = /fs/ ] && auth=(-H "Cookie: __Host-authgate-session=$fed_sid")
        [ "$route" = /lb/ ] && auth=(-H "Authorization: Bearer $local_token")
        [ "$route" = /fb/ ] && auth=(-H "Authorization: Bearer $fed_token")
        status=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "http://127.0.0.1:$port$route")
        [ "$status" = 200 ] || { echo "$bin $route answered $status" >&2; exit 1; }
        wrk -t1 -c"$CONNS" -d2s "${auth[@]}" "http://127.0.0.1:$port$route" >/dev/null   # warm-up
        callgrind_control -z "$vg" >/dev/null 2>&1
        out=$(wrk -t1 -c"$CONNS" -d"${SECONDS_RUN}s" "${auth[@]}" "http://127.0.0.1:$port$route")
        callgrind_control -d "$vg" >/dev/null 2>&1
        sleep 1
        requests=$(awk '/requests in/ {print $1}' <<<"$out")
        # Every thread's dump of this round (the runtime's workers, the hash pool, ...).
        ir=$(cat $(ls -t "$work"/cg.$vg.* 2>/dev/null) /dev/null | awk '/^summary:/ {s += $2} END {print s + 0}')
        if [ -n "${KEEP_PROFILES:-}" ]; then
            keep="$KEEP_PROFILES/$(basename "$bin")$(tr / _ <<<"$route")"
            mkdir -p "$keep" && cp "$work"/cg.$vg.* "$keep"/ 2>/dev/null || true
        fi
        rm -f "$work"/cg.$vg.*
        printf '| %s | %s | %s | %s |\n' "$bin" "$route" "$requests" "$(( ir / requests ))"
    done
    kill "$vg"; wait "$vg" 2>/dev/null || true
done
