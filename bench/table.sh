#!/usr/bin/env bash
# bench/table.sh — the comparisons a user makes, in one run, as one table of ratios to nginx
# (issue 17 item 4). Every scenario runs nginx and authgate back to back in each round (the
# order flips every round, and each round starts one scenario further down the list), so
# that a noisy neighbour hits both alike:
#
#   plain HTTP/1.1, logs off:   auth = "none", "bearer" and "session" routes vs proxy_pass
#   plain HTTP/1.1, logs on:    none route with [log] access_file vs nginx access_log
#   TLS HTTP/1.1 keep-alive:    none route vs nginx `listen ssl`
#   TLS HTTP/2 multiplexed:     none route, h2load (CONNS_H2 connections x STREAMS streams)
#                               vs nginx `listen ssl http2`
#   new TLS connections:        full handshakes and resumed ones (TLS 1.3 tickets, TLS 1.2
#                               session ids), `openssl s_time`, one GET each
#
# Usage:  bench/table.sh                      (from any directory; builds target/release)
#         AUTHGATE_BIN=target/release/authgate ROUNDS=5 DURATION=10s bench/table.sh > table.md
#
# The table goes to stdout, progress to stderr. Servers run on SERVER_CPU, every client on
# CLIENT_CPU (bench/lib.sh). Needs nginx, wrk, openssl, h2load (nghttp2-client) and
# python3; missing ones are installed with apt-get. See bench/README.md.
set -euo pipefail

ROUNDS=${ROUNDS:-3}            # rounds; each scenario runs once per server per round
DURATION=${DURATION:-5s}       # length of each wrk / h2load / s_time run
WARMUP=${WARMUP:-2s}           # one warm-up run per server and HTTP scenario (0 skips)
CONNS=${CONNS:-50}             # wrk connections
CONNS_H2=${CONNS_H2:-10}       # h2load connections
STREAMS=${STREAMS:-10}         # h2load concurrent streams per connection
NO_BUILD=${NO_BUILD:-0}        # 1: do not run cargo build (use the existing binary)
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
QUIET_WAIT=${QUIET_WAIT:-30}   # before each run, wait up to this many seconds for idle CPUs

ME=$(basename "$0")
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer (got '$ROUNDS')"
[[ $DURATION =~ ^[1-9][0-9]*s?$ ]] || die "DURATION must be whole seconds, like 5s (got '$DURATION')"
bench_init "$0"
ensure_tools
if ! command -v h2load >/dev/null 2>&1; then
    log "installing h2load (nghttp2-client)"
    SUDO=()
    ((EUID == 0)) || SUDO=(sudo)
    "${SUDO[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq nghttp2-client >&2 \
        || die "apt-get install nghttp2-client failed"
fi
setup_pinning
build_authgate
make_workdir
SECS=${DURATION%s}

read -r UP_PORT NGX_PLAIN NGX_LOG NGX_TLS AG_PLAIN AG_LOG AG_TLS < <(free_ports 7)

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >"$WORK/openssl.log" 2>&1 \
    || { cat "$WORK/openssl.log" >&2; die "openssl req failed"; }
chmod 0600 "$WORK/key.pem"

# ---------------------------------------------------------------- nginx ----
write_upstream_conf "$WORK/upstream" "$UP_PORT"
mkdir -p "$WORK/nginx/tmp"
{
    nginx_common "$WORK/nginx"
    cat <<EOF
    upstream backend { server 127.0.0.1:$UP_PORT; keepalive 64; keepalive_requests 1000000; }
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    ssl_session_cache shared:SSL:10m;
    ssl_session_tickets on;
    server {
        listen 127.0.0.1:$NGX_PLAIN;
        location / { proxy_pass http://backend; }
    }
    server {
        listen 127.0.0.1:$NGX_LOG;
        access_log $WORK/nginx/access.log;
        location / { proxy_pass http://backend; }
    }
    server {
        listen 127.0.0.1:$NGX_TLS ssl http2;
        ssl_certificate $WORK/cert.pem;
        ssl_certificate_key $WORK/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { proxy_pass http://backend; }
    }
}
EOF
} >"$WORK/nginx/nginx.conf"
start_nginx upstream "$WORK/upstream"
UP_PID=$LAST_PID
wait_up "upstream nginx" "http://127.0.0.1:$UP_PORT/" "$UP_PID" "$WORK/upstream/stderr.log"
start_nginx nginx "$WORK/nginx"
NGX_PID=$LAST_PID
wait_up "nginx proxy" "http://127.0.0.1:$NGX_PLAIN/" "$NGX_PID" "$WORK/nginx/stderr.log"

# ------------------------------------------------------------- authgate ----
# Three gateways from one configuration: plain with logs off, plain with the access log to a
# file, and TLS (HTTP/1.1 and HTTP/2 by ALPN) with logs off.
CLIENT_ID=bench-client
CLIENT_SECRET=$(openssl rand -hex 32)
CLIENT_SECRET_SHA=$(printf '%s' "$CLIENT_SECRET" | openssl dgst -sha256 -r | awk '{print $1}')
USER_NAME=bench
USER_PASSWORD=$(openssl rand -hex 16)
USER_HASH=$(printf '%s\n' "$USER_PASSWORD" | "$AUTHGATE_BIN" hash-password) || die "authgate hash-password failed"
ACCESS_FILE="$WORK/authgate-access.log"

start_authgate() { # NAME PORT SCHEME TLS_TOML LOG_TOML
    local name=$1 port=$2 scheme=$3
    mkdir -p "$WORK/data-$name"
    cat >"$WORK/$name.toml" <<EOF
[server]
listen = "127.0.0.1:$port"
public_url = "$scheme://127.0.0.1:$port"
data_dir = "$WORK/data-$name"
[server.tls]
$4
[log]
level = "warn"
$5
[admin]
listen = "off"
[tokens]
access_ttl = "1h"
[scopes]
"api:read" = "Read the benchmark API"
app = "Use the benchmark app"
[[users]]
name = "$USER_NAME"
password = "$USER_HASH"
scopes = ["app"]
[[clients]]
id = "$CLIENT_ID"
type = "confidential"
secret = "sha256:$CLIENT_SECRET_SHA"
grants = ["client_credentials"]
scopes = ["api:read"]
[[routes]]
path = "/b/"
upstream = "http://127.0.0.1:$UP_PORT"
auth = "bearer"
scopes = ["api:read"]
[[routes]]
path = "/s/"
upstream = "http://127.0.0.1:$UP_PORT"
auth = "session"
scopes = ["app"]
[[routes]]
path = "/"
upstream = "http://127.0.0.1:$UP_PORT"
auth = "none"
EOF
    "$AUTHGATE_BIN" check --config "$WORK/$name.toml" >"$WORK/check-$name.log" 2>&1 \
        || { cat "$WORK/check-$name.log" >&2; die "authgate check refused the $name configuration"; }
    start_bg "$name" "$WORK/$name.log" "$AUTHGATE_BIN" serve --config "$WORK/$name.toml"
    wait_up "$name" "$scheme://127.0.0.1:$port/" "$LAST_PID" "$WORK/$name.log"
}
start_authgate authgate-plain "$AG_PLAIN" http 'mode = "off"' 'access = false'
AG_PLAIN_PID=$LAST_PID
start_authgate authgate-log "$AG_LOG" http 'mode = "off"' "access = true
access_file = \"$ACCESS_FILE\""
AG_LOG_PID=$LAST_PID
start_authgate authgate-tls "$AG_TLS" https "mode = \"files\"
cert = \"$WORK/cert.pem\"
key = \"$WORK/key.pem\"" 'access = false'
AG_TLS_PID=$LAST_PID

check_servers() {
    check_alive "upstream nginx" "$UP_PID" "$WORK/upstream/error.log"
    check_alive "nginx proxy" "$NGX_PID" "$WORK/nginx/error.log"
    check_alive "authgate (plain)" "$AG_PLAIN_PID" "$WORK/authgate-plain.log"
    check_alive "authgate (access log)" "$AG_LOG_PID" "$WORK/authgate-log.log"
    check_alive "authgate (TLS)" "$AG_TLS_PID" "$WORK/authgate-tls.log"
}

AG="http://127.0.0.1:$AG_PLAIN"
TOKEN=$(curl -sS --max-time 10 -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials "$AG/oauth2/token" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])') \
    || die "no access token from POST /oauth2/token"
SESSION=$("${PIN_CLIENT[@]}" python3 "$BENCH/login.py" once "$AG" /s/ "$USER_NAME" "$USER_PASSWORD") \
    || die "signing in through the login page failed"
BEARER_HDR="Authorization: Bearer $TOKEN"
SESSION_HDR="Cookie: __Host-authgate-session=$SESSION"

# Every measured URL answers the upstream's "ok" (and the protected ones refuse without).
expect_ok() { # WHAT CURL_ARGS...
    local what=$1 body
    shift
    body=$(curl -sSk --max-time 10 "$@") || die "$what: curl failed"
    [[ $body == ok ]] || die "$what: answered '$(head -c 200 <<<"$body")', not the upstream's 'ok'"
}
expect_ok "nginx plain" "http://127.0.0.1:$NGX_PLAIN/"
expect_ok "nginx logged" "http://127.0.0.1:$NGX_LOG/"
expect_ok "nginx TLS" "https://127.0.0.1:$NGX_TLS/"
expect_ok "authgate none" "$AG/"
expect_ok "authgate bearer" -H "$BEARER_HDR" "$AG/b/"
expect_ok "authgate session" -H "$SESSION_HDR" "$AG/s/"
expect_ok "authgate logged" "http://127.0.0.1:$AG_LOG/"
expect_ok "authgate TLS" "https://127.0.0.1:$AG_TLS/"
[[ $(curl -s -o /dev/null -w '%{http_code}' "$AG/b/") == 401 ]] || die "the bearer route answers without a token"
h2proto=$(curl -sk --http2 -o /dev/null -w '%{http_version}' "https://127.0.0.1:$AG_TLS/") || true
[[ $h2proto == 2 ]] || die "authgate's TLS listener did not speak HTTP/2 to curl --http2 (got '$h2proto')"

# ------------------------------------------------------------ the runs ----
RESULTS="$WORK/results.tsv"
ERRNOTES="$WORK/errors.txt"
: >"$RESULTS"
: >"$ERRNOTES"
DURATION_WRK="${SECS}s"

# h2load_one SCENARIO SERVER ROUND URL: one h2load run, appended to RESULTS like bench_one's
# (no latency percentiles: h2load reports none; p50/p99 are left at 0).
h2load_one() {
    local scen=$1 server=$2 round=$3 url=$4 out="$WORK/h2load-$2-$3.txt" rps ok
    wait_quiet
    check_servers
    "${PIN_CLIENT[@]}" h2load -c "$CONNS_H2" -m "$STREAMS" -D "$SECS" --warm-up-time=1 "$url" >"$out" 2>&1 \
        || { cat "$out" >&2; die "h2load failed ($server round $round)"; }
    rps=$(awk '/^finished in/ {gsub(/,/, ""); print $4; exit}' "$out")
    ok=$(awk '/^status codes:/ {print $3; exit}' "$out")
    [[ -n $rps ]] || { cat "$out" >&2; die "could not parse h2load's output ($server round $round)"; }
    grep -q '^requests:.* 0 failed, 0 errored' "$out" \
        || printf -- '- %s %s round %s: %s\n' "$scen" "$server" "$round" "$(grep '^requests:' "$out")" >>"$ERRNOTES"
    printf '%s\t%s\t%s\t%s\t0\t0\t0\t0\t%s\t0\n' "$scen" "$server" "$round" "$rps" "${ok:-0}" >>"$RESULTS"
    log "  round $round $(printf '%-8s' "$server") ${rps} req/s  (h2load ${CONNS_H2}x${STREAMS})"
}

# stime_one SCENARIO SERVER ROUND PORT -new|-reuse -tls1_3|-tls1_2: new connections per second.
stime_one() {
    local scen=$1 server=$2 round=$3 port=$4 mode=$5 version=$6 out="$WORK/stime-$1-$2-$3.txt" rate
    wait_quiet
    check_servers
    "${PIN_CLIENT[@]}" openssl s_time -connect "127.0.0.1:$port" "$mode" "$version" -time "$SECS" -www / \
        >"$out" 2>&1 || { cat "$out" >&2; die "openssl s_time failed ($scen, $server)"; }
    rate=$(awk '/connections in [0-9.]+ real seconds/ {n = $1; t = $4} END {if (t > 0) printf "%.0f", n / t}' "$out")
    [[ -n $rate ]] || { cat "$out" >&2; die "could not parse s_time's output ($scen, $server)"; }
    printf '%s\t%s\t%s\t%s\t0\t0\t0\t0\t0\t0\n' "$scen" "$server" "$round" "$rate" >>"$RESULTS"
    log "  round $round $(printf '%-8s' "$server") ${rate} connections/s ($scen)"
}

# The scenarios: key (file names, RESULTS) | name (the table) | kind | nginx target | authgate target | extra wrk option (a header).
SCENARIOS=(
    "plain-none|plain · logs off · none|wrk|http://127.0.0.1:$NGX_PLAIN/|$AG/|"
    "plain-bearer|plain · logs off · bearer|wrk|http://127.0.0.1:$NGX_PLAIN/|$AG/b/|$BEARER_HDR"
    "plain-session|plain · logs off · session|wrk|http://127.0.0.1:$NGX_PLAIN/|$AG/s/|$SESSION_HDR"
    "plain-log|plain · access log on · none|wrk|http://127.0.0.1:$NGX_LOG/|http://127.0.0.1:$AG_LOG/|"
    "tls-h1|TLS · HTTP/1.1 keep-alive · none|wrk|https://127.0.0.1:$NGX_TLS/|https://127.0.0.1:$AG_TLS/|"
    "tls-h2|TLS · HTTP/2, ${CONNS_H2} connections x ${STREAMS} streams · none|h2|https://127.0.0.1:$NGX_TLS/|https://127.0.0.1:$AG_TLS/|"
    "tls13-full|new TLS 1.3 connections, full handshake|stime -new -tls1_3|$NGX_TLS|$AG_TLS|"
    "tls13-resumed|new TLS 1.3 connections, resumed (ticket)|stime -reuse -tls1_3|$NGX_TLS|$AG_TLS|"
    "tls12-full|new TLS 1.2 connections, full handshake|stime -new -tls1_2|$NGX_TLS|$AG_TLS|"
    "tls12-resumed|new TLS 1.2 connections, resumed (session id)|stime -reuse -tls1_2|$NGX_TLS|$AG_TLS|"
)

run_scenario() { # SCENARIO-LINE SERVER ROUND
    local key name kind ngx ag hdr target
    IFS='|' read -r key name kind ngx ag hdr <<<"$1"
    if [[ $2 == nginx ]]; then target=$ngx; else target=$ag; fi
    case $kind in
        wrk)
            if [[ -n $hdr ]]; then
                bench_one "$key" "$2" "$3" "$target" -H "$hdr"
            else
                bench_one "$key" "$2" "$3" "$target"
            fi
            ;;
        h2) h2load_one "$key" "$2" "$3" "$target" ;;
        stime*)
            # shellcheck disable=SC2086 # the kind's options are words
            stime_one "$key" "$2" "$3" "$target" ${kind#stime }
            ;;
    esac
}

if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
    log "warm-up ($WARMUP per server and HTTP/1.1 scenario)"
    for line in "${SCENARIOS[@]}"; do
        IFS='|' read -r _ _ kind ngx ag hdr <<<"$line"
        [[ $kind == wrk ]] || continue
        run_wrk "nginx warm-up" "$ngx" "$WARMUP" "$WORK/warmup.txt"
        if [[ -n $hdr ]]; then run_wrk "authgate warm-up" "$ag" "$WARMUP" "$WORK/warmup.txt" -H "$hdr"
        else run_wrk "authgate warm-up" "$ag" "$WARMUP" "$WORK/warmup.txt"; fi
    done
fi
BUSY_START=$(cpu_busy_pct)
# Each round starts one scenario further down the list (round 1 at the first), as the
# servers' order flips: in the runs of 2026-12-06, with every round starting at the none
# route, the first scenario of a round was the lowest plain ratio in 9 rounds of 10 and
# nginx's own none run beat its bearer run (the same work for nginx) in all 10 rounds
# (bench/README.md). The rotation spreads that position over the scenarios.
NSCEN=${#SCENARIOS[@]}
for ((r = 1; r <= ROUNDS; r++)); do
    log "round $r of $ROUNDS"
    for ((i = 0; i < NSCEN; i++)); do
        line=${SCENARIOS[$(((i + r - 1) % NSCEN))]}
        if ((r % 2)); then order=(nginx authgate); else order=(authgate nginx); fi
        for server in "${order[@]}"; do run_scenario "$line" "$server" "$r"; done
    done
done

# ------------------------------------------------------------ the table ----
median() { sort -g | awk '{v[NR] = $1} END {if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
med() { awk -F'\t' -v g="$1" -v s="$2" -v c="$3" '$1 == g && $2 == s {print $c}' "$RESULTS" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
range() { # SCENARIO: the lowest and highest per-round ratio authgate / nginx
    awk -F'\t' -v g="$1" '$1 == g {v[$2, $3] = $4; r[$3] = 1}
        END {lo = ""; for (k in r) if (v["nginx", k] > 0) { x = v["authgate", k] / v["nginx", k];
            if (lo == "" || x < lo) lo = x; if (hi == "" || x > hi) hi = x }
            printf "%.2f–%.2f", lo, hi}' "$RESULTS"
}

echo "# authgate vs nginx, one run"
echo
echo "$START_DATE; $(authgate_desc); $(tool_versions); $(h2load --version 2>/dev/null | head -n1);" \
    "$(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), servers on CPU $SERVER_CPU, clients on CPU $CLIENT_CPU;" \
    "$ROUNDS rounds x $DURATION per server and scenario, interleaved; wrk $CONNS connections;" \
    "CPUs ${BUSY_START}% busy before the runs"
echo
echo "| scenario | nginx | authgate | authgate ÷ nginx (median) | per round | p99 nginx / authgate (ms) |"
echo "|---|---:|---:|---:|---:|---:|"
for line in "${SCENARIOS[@]}"; do
    IFS='|' read -r key name kind _ <<<"$line"
    n=$(med "$key" nginx 4) a=$(med "$key" authgate 4)
    unit=req/s
    [[ $kind == stime* ]] && unit=conn/s
    p99=''
    [[ $kind == wrk ]] && p99="$(med "$key" nginx 6) / $(med "$key" authgate 6)"
    printf '| %s | %.0f %s | %.0f %s | %s | %s | %s |\n' "$name" "$n" "$unit" "$a" "$unit" \
        "$(ratio "$a" "$n")" "$(range "$key")" "${p99:-–}"
done
echo
none=$(med plain-none authgate 4)
echo "| authgate against itself | ratio |"
echo "|---|---:|"
echo "| bearer route ÷ none route | $(ratio "$(med plain-bearer authgate 4)" "$none") |"
echo "| session route ÷ none route | $(ratio "$(med plain-session authgate 4)" "$none") |"
echo "| access log on ÷ off (none route) | $(ratio "$(med plain-log authgate 4)" "$none") |"
echo "| nginx: access log on ÷ off | $(ratio "$(med plain-log nginx 4)" "$(med plain-none nginx 4)") |"
echo
sleep 1   # the access log's writer flushes within 200 ms
echo "Access lines written: authgate $(grep -c . "$ACCESS_FILE" 2>/dev/null || echo 0), nginx $(wc -l <"$WORK/nginx/access.log")" \
    "(measured runs, warm-up and checks)."
echo
echo "Raw runs (scenario, server, round, req/s or conn/s, p50 ms, p99 ms, non-2xx, socket errors, requests, other CPU %):"
echo
sed 's/^/    /' "$RESULTS"
[[ -s $ERRNOTES ]] && { echo; cat "$ERRNOTES"; }
exit 0
