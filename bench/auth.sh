#!/usr/bin/env bash
# bench/auth.sh — authgate with authentication on the request path:
#   1. routes: bearer- and session-protected routes vs nginx plain proxy_pass (no auth);
#   2. token:  client_credentials token responses/s on POST /oauth2/token;
#   3. login:  the proxy's p99 alone and while LOGIN_RATE logins/s hash passwords, under a
#              fixed-rate (open-loop) load below capacity (LOGIN_LOAD=open, the default) or
#              wrk at saturation (LOGIN_LOAD=closed). Controls: LOGIN_HOST=neighbour sends the
#              logins to a second gateway on the servers' CPU; LOGIN_VICTIM=nginx measures
#              nginx proxy_pass instead of authgate's none route.
# With TOKEN_ALGORITHMS="HS256 ES256" (or EdDSA) part 1 also measures the bearer route of a
# second gateway whose [tokens] algorithm signs access tokens with its published keys, in the
# same interleaved rounds, and reports its req/s against the first algorithm's bearer route.
# With STORE=redis the gateway keeps its token store in a redis-server started here (on the
# servers' CPU): compare with a STORE=memory run for the Redis backend's targets.
#
# Usage:  bench/auth.sh                       (from any directory)
#         ROUNDS=5 DURATION=20s PARTS="routes login" bench/auth.sh > result.md
#
# Results (markdown) go to stdout, progress to stderr. Shares its helpers with
# bench/proxy.sh (bench/lib.sh). See bench/README.md.
set -euo pipefail

# ---------------------------------------------------------------- knobs ----
ROUNDS=${ROUNDS:-3}            # measured rounds per server (or load)
DURATION=${DURATION:-10s}      # length of each measured wrk run
WARMUP=${WARMUP:-3s}           # length of the warm-up run per server (0: none)
CONNS=${CONNS:-50}             # wrk connections
PARTS=${PARTS:-"routes token login"}   # which parts to run
LOGIN_RATE=${LOGIN_RATE:-20}   # sign-ins per second during the "logins" runs of part 3
LOGIN_LOAD=${LOGIN_LOAD:-open} # part 3's proxy load: open (fixed rate, bench/openloop.rs) or closed (wrk)
OPEN_FRACTION=${OPEN_FRACTION:-0.3}  # open: the rate as a fraction of the none route's wrk req/s
OPEN_RATE=${OPEN_RATE:-}       # open: this many requests/s instead (skips the capacity run)
LOGIN_HOST=${LOGIN_HOST:-self} # part 3: self (the measured gateway hashes) or neighbour (a second gateway on the servers' CPU does)
LOGIN_VICTIM=${LOGIN_VICTIM:-authgate-none}  # part 3: what the load measures: authgate-none or nginx (proxy_pass)
NO_BUILD=${NO_BUILD:-0}        # 1: do not run cargo build (use the existing binary)
# AUTHGATE_BIN=/path/to/authgate  use this binary instead of target/release/authgate (implies NO_BUILD=1)
SERVER_CPU=${SERVER_CPU:-1}    # CPU for every server process
CLIENT_CPU=${CLIENT_CPU:-0}    # CPU for wrk and the login driver
QUIET_WAIT=${QUIET_WAIT:-60}   # before each measured run, wait up to this many seconds for idle CPUs (0: don't)
STORE=${STORE:-memory}         # token store: memory | redis (a redis-server started on the servers' CPU)
TOKEN_ALGORITHMS=${TOKEN_ALGORITHMS:-HS256}  # part 1: [tokens] algorithm of the gateway, then of one more gateway each
ROUTE_SERVERS=${ROUTE_SERVERS:-"nginx authgate-none authgate-bearer authgate-session"}  # part 1's servers (the extra algorithms' bearer routes follow authgate-bearer)

ME=$(basename "$0")
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer (got '$ROUNDS')"
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "CONNS must be a positive integer (got '$CONNS')"
[[ $QUIET_WAIT =~ ^[0-9]+$ ]] || die "QUIET_WAIT must be a non-negative integer (got '$QUIET_WAIT')"
[[ $DURATION =~ ^[1-9][0-9]*[smh]?$ ]] || die "DURATION must look like 10s, 1m (got '$DURATION')"
[[ $WARMUP =~ ^[0-9]+[smh]?$ ]] || die "WARMUP must look like 3s, 0 to skip (got '$WARMUP')"
[[ $LOGIN_RATE =~ ^[0-9]*\.?[0-9]+$ && $LOGIN_RATE =~ [1-9] ]] \
    || die "LOGIN_RATE must be a positive number (got '$LOGIN_RATE')"
[[ $LOGIN_LOAD == open || $LOGIN_LOAD == closed ]] || die "LOGIN_LOAD must be 'open' or 'closed' (got '$LOGIN_LOAD')"
[[ $OPEN_FRACTION =~ ^0?\.[0-9]*[1-9][0-9]*$|^1(\.0*)?$ ]] || die "OPEN_FRACTION must be in (0, 1] (got '$OPEN_FRACTION')"
[[ -z $OPEN_RATE || $OPEN_RATE =~ ^[1-9][0-9]*$ ]] || die "OPEN_RATE must be a positive integer (got '$OPEN_RATE')"
[[ $LOGIN_HOST == self || $LOGIN_HOST == neighbour ]] || die "LOGIN_HOST must be 'self' or 'neighbour' (got '$LOGIN_HOST')"
[[ $LOGIN_VICTIM == authgate-none || $LOGIN_VICTIM == nginx ]] || die "LOGIN_VICTIM must be 'authgate-none' or 'nginx' (got '$LOGIN_VICTIM')"
for p in $PARTS; do
    [[ $p == routes || $p == token || $p == login ]] || die "PARTS may contain only 'routes', 'token' and 'login' (got '$p')"
done
[[ -n ${PARTS// /} ]] || die "PARTS is empty"
[[ $STORE == memory || $STORE == redis ]] || die "STORE must be memory or redis (got '$STORE')"
read -r -a ALGS <<<"$TOKEN_ALGORITHMS"
((${#ALGS[@]})) || die "TOKEN_ALGORITHMS is empty"
for a in "${ALGS[@]}"; do
    [[ $a == HS256 || $a == ES256 || $a == EdDSA ]] || die "TOKEN_ALGORITHMS may contain HS256, ES256 and EdDSA (got '$a')"
done
for s in $ROUTE_SERVERS; do
    [[ $s =~ ^(nginx|authgate-none|authgate-bearer|authgate-session)$ ]] \
        || die "ROUTE_SERVERS may contain nginx, authgate-none, authgate-bearer, authgate-session (got '$s')"
done
want_part() { [[ " $PARTS " == *" $1 "* ]]; }

bench_init "$0"
ensure_tools
if [[ $STORE == redis ]] && ! command -v redis-server >/dev/null 2>&1; then
    log "installing redis-server"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2 \
        || die "apt-get install redis-server failed"
fi
setup_pinning
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
build_authgate
if want_part login && [[ $LOGIN_LOAD == open ]]; then build_openloop; fi
make_workdir

read -r UP_PORT NGX_PORT AG_PORT REDIS_PORT AG2_PORT ALG_PORTS < <(free_ports $((5 + ${#ALGS[@]} - 1)))
[[ -n ${AG_PORT:-} ]] || die "could not pick free ports"
AG="http://127.0.0.1:$AG_PORT"
NGX="http://127.0.0.1:$NGX_PORT"

# ------------------------------------------------------ nginx (upstream, proxy) ----
write_upstream_conf "$WORK/upstream" "$UP_PORT"
write_proxy_conf "$WORK/nginx" "$NGX_PORT" "$UP_PORT"

log "starting upstream nginx on 127.0.0.1:$UP_PORT"
start_nginx upstream "$WORK/upstream"
UP_PID=$LAST_PID
wait_up "upstream nginx" "http://127.0.0.1:$UP_PORT/" "$UP_PID" "$WORK/upstream/stderr.log"
[[ $(curl -s "http://127.0.0.1:$UP_PORT/") == ok ]] || die "upstream does not answer 'ok'"

log "starting nginx proxy on 127.0.0.1:$NGX_PORT"
start_nginx nginx "$WORK/nginx"
NGX_PID=$LAST_PID
wait_up "nginx proxy" "$NGX/" "$NGX_PID" "$WORK/nginx/stderr.log"

# ---------------------------------------------------------------- redis ----
STORE_TOML=''
STORE_DESC='memory (the default backend)'
if [[ $STORE == redis ]]; then
    mkdir -p "$WORK/redis"
    log "starting redis-server on 127.0.0.1:$REDIS_PORT"
    start_bg redis "$WORK/redis/stdout.log" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
        --save '' --appendonly no --dir "$WORK/redis"
    REDIS_PID=$LAST_PID
    for ((i = 0; i < 100; i++)); do
        [[ $(redis-cli -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] && break
        kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited during startup"
        sleep 0.1
    done
    [[ $(redis-cli -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] || die "redis-server did not answer PING"
    STORE_TOML=$(printf '[store]\nbackend = "redis"\nurl = "redis://127.0.0.1:%s"\n' "$REDIS_PORT")
    STORE_DESC="redis ($(redis-server --version | awk '{print $3}'), no persistence, on the servers' CPU)"
fi

# ------------------------------------------------------------- authgate ----
# A confidential client for client_credentials (secret: 256 random bits; the file holds
# only its SHA-256) and a user with an argon2id hash from `authgate hash-password`.
CLIENT_ID=bench-client
CLIENT_SECRET=$(openssl rand -hex 32)
CLIENT_SECRET_SHA=$(printf '%s' "$CLIENT_SECRET" | openssl dgst -sha256 -r | awk '{print $1}')
BASIC=$(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | base64 -w0)
USER_NAME=bench
USER_PASSWORD=$(openssl rand -hex 16)
USER_HASH=$(printf '%s\n' "$USER_PASSWORD" | "$AUTHGATE_BIN" hash-password) \
    || die "authgate hash-password failed"
[[ $USER_HASH == \$argon2id\$* ]] || die "authgate hash-password printed '$USER_HASH', not an argon2id hash"
ARGON2_PARAMS=$(cut -d'$' -f4 <<<"$USER_HASH")

mkdir -p "$WORK/data"
cat >"$WORK/authgate.toml" <<EOF
# generated by bench/auth.sh
[server]
listen = "127.0.0.1:$AG_PORT"
public_url = "$AG"
data_dir = "$WORK/data"

[server.tls]
mode = "off"

[log]
access = false
level = "warn"

# Several gateways may run at once: no admin listener (it would want port 9090).
[admin]
listen = "off"

[tokens]
access_ttl = "1h"   # the default 15m could expire during a run
algorithm = "${ALGS[0]}"

$STORE_TOML

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
"$AUTHGATE_BIN" check --config "$WORK/authgate.toml" >"$WORK/check.log" 2>&1 \
    || { cat "$WORK/check.log" >&2; die "authgate check refused the generated configuration"; }

log "starting authgate on $AG"
start_bg authgate "$WORK/authgate-auth.log" "$AUTHGATE_BIN" serve --config "$WORK/authgate.toml"
AG_PID=$LAST_PID
wait_up authgate "$AG/" "$AG_PID" "$WORK/authgate-auth.log"
AG_RSS=("startup $(rss_kib "$AG_PID")")

# The login host of part 3: this gateway, or a second one from the same configuration (its
# own port and data directory) that only serves the logins, beside the measured servers.
LOGIN_AG=$AG AG2_PID=''
if want_part login && [[ $LOGIN_HOST == neighbour ]]; then
    LOGIN_AG="http://127.0.0.1:$AG2_PORT"
    mkdir -p "$WORK/data2"
    sed -e "s|127.0.0.1:$AG_PORT|127.0.0.1:$AG2_PORT|g" -e "s|^data_dir = .*|data_dir = \"$WORK/data2\"|" \
        "$WORK/authgate.toml" >"$WORK/authgate2.toml"
    log "starting the neighbour gateway (logins only) on $LOGIN_AG"
    start_bg authgate-neighbour "$WORK/authgate-neighbour.log" "$AUTHGATE_BIN" serve --config "$WORK/authgate2.toml"
    AG2_PID=$LAST_PID
    wait_up "neighbour authgate" "$LOGIN_AG/" "$AG2_PID" "$WORK/authgate-neighbour.log"
fi

# The other access-token algorithms of part 1: one more gateway each, from the same
# configuration but its port, data directory and [tokens] algorithm.
declare -A ALG_AG ALG_PID ALG_TOKEN
if want_part routes; then
    read -r -a _alg_ports <<<"${ALG_PORTS:-}"
    for ((i = 1; i < ${#ALGS[@]}; i++)); do
        a=${ALGS[i]} port=${_alg_ports[i - 1]}
        ALG_AG[$a]="http://127.0.0.1:$port"
        mkdir -p "$WORK/data-$a"
        sed -e "s|127.0.0.1:$AG_PORT|127.0.0.1:$port|g" -e "s|^data_dir = .*|data_dir = \"$WORK/data-$a\"|" \
            -e "s|^algorithm = .*|algorithm = \"$a\"|" "$WORK/authgate.toml" >"$WORK/authgate-$a.toml"
        log "starting the $a gateway (access tokens signed $a) on ${ALG_AG[$a]}"
        start_bg "authgate-$a" "$WORK/authgate-alg-$a.log" "$AUTHGATE_BIN" serve --config "$WORK/authgate-$a.toml"
        ALG_PID[$a]=$LAST_PID
        wait_up "$a authgate" "${ALG_AG[$a]}/" "$LAST_PID" "$WORK/authgate-alg-$a.log"
    done
fi

# Called by bench_one around every measured run.
check_servers() {
    check_alive "upstream nginx" "$UP_PID" "$WORK/upstream/error.log"
    check_alive "nginx proxy" "$NGX_PID" "$WORK/nginx/error.log"
    check_alive authgate "$AG_PID" "$WORK/authgate-auth.log"
    if [[ -n $AG2_PID ]]; then check_alive "neighbour authgate" "$AG2_PID" "$WORK/authgate-neighbour.log"; fi
    local a
    for a in "${!ALG_PID[@]}"; do check_alive "$a authgate" "${ALG_PID[$a]}" "$WORK/authgate-alg-$a.log"; done
    if [[ $STORE == redis ]]; then check_alive redis-server "$REDIS_PID" "$WORK/redis/stdout.log"; fi
}

# ------------------------------------------------------- credentials ----
# An access token (client_credentials, HTTP Basic) and a browser session (the sign-in
# through the login page, bench/login.py).
TOKEN_JSON=$(curl -sS --max-time 10 -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials "$AG/oauth2/token") \
    || die "POST /oauth2/token failed"
TOKEN=$(python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["access_token"])' <<<"$TOKEN_JSON" 2>/dev/null) \
    || die "POST /oauth2/token did not return an access token: $TOKEN_JSON"
log "got an access token (client_credentials, scope $(python3 -c 'import json, sys; print(json.load(sys.stdin).get("scope"))' <<<"$TOKEN_JSON"))"
# jwt_alg TOKEN: the alg of a JWT's header.
jwt_alg() {
    python3 -c 'import base64, json, sys; h = sys.argv[1].split(".")[0]; print(json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))["alg"])' "$1"
}
[[ $(jwt_alg "$TOKEN") == "${ALGS[0]}" ]] || die "the access token is signed $(jwt_alg "$TOKEN"), not ${ALGS[0]}"
for a in "${!ALG_AG[@]}"; do
    t=$(curl -sS --max-time 10 -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials "${ALG_AG[$a]}/oauth2/token" \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])') \
        || die "the $a gateway gave no access token"
    [[ $(jwt_alg "$t") == "$a" ]] || die "the $a gateway's access token is signed $(jwt_alg "$t")"
    ALG_TOKEN[$a]=$t
    log "got an access token from the $a gateway (signed $a)"
done
# Only when a run needs it: the sign-in hashes on the servers' CPU at idle priority, which a
# busy machine can starve past the login deadline.
SESSION=''
if { want_part routes && [[ " $ROUTE_SERVERS " == *" authgate-session "* ]]; } || want_part login; then
    SESSION=$("${PIN_CLIENT[@]}" python3 "$BENCH/login.py" once "$AG" /s/ "$USER_NAME" "$USER_PASSWORD") \
        || die "signing in through the login page failed"
    log "got a session cookie (signed in as $USER_NAME through the login page)"
fi
SESSION_HDR="Cookie: __Host-authgate-session=$SESSION"

# ------------------------------------------------------- verification ----
# expect_status WHAT WANT_STATUS [WANT_BODY] -- CURL_ARGS...: one request, checked.
expect_status() {
    local what=$1 want=$2 want_body=${3-} st body
    shift 3
    [[ ${1-} == -- ]] && shift
    st=$(curl -sS --max-time 10 -o "$WORK/verify.body" -w '%{http_code}' "$@") || die "$what: curl failed"
    body=$(head -c 300 "$WORK/verify.body")
    [[ $st == "$want" ]] || die "$what: HTTP $st, expected $want (body: $body)"
    if [[ -n $want_body && $body != "$want_body" ]]; then
        die "$what: body '$body', expected '$want_body'"
    fi
}

# mangle STRING: the same string with one character (10th from the end) changed.
mangle() {
    local s=$1 i=$((${#1} - 10)) c
    c=${s:i:1}
    if [[ $c == A ]]; then c=B; else c=A; fi
    printf '%s%s%s' "${s:0:i}" "$c" "${s:i+1}"
}

# verify SERVER: before every run of SERVER, show that an authenticated request gets the
# upstream's 200 "ok" and an unauthenticated one is refused, so that a misconfiguration
# cannot turn into a fast benchmark of error responses.
verify() {
    case $1 in
    nginx) expect_status "nginx proxy_pass" 200 ok -- "$NGX/b/" ;;
    authgate-none) expect_status "authgate auth=none" 200 ok -- "$AG/" ;;
    authgate-bearer)
        expect_status "bearer route with the token" 200 ok -- -H "Authorization: Bearer $TOKEN" "$AG/b/"
        expect_status "bearer route without a token" 401 '' -- "$AG/b/"
        expect_status "bearer route with a bad token" 401 '' -- -H "Authorization: Bearer $(mangle "$TOKEN")" "$AG/b/"
        ;;
    authgate-bearer-*)
        local a=${1#authgate-bearer-}
        expect_status "$a bearer route with the token" 200 ok -- -H "Authorization: Bearer ${ALG_TOKEN[$a]}" "${ALG_AG[$a]}/b/"
        expect_status "$a bearer route without a token" 401 '' -- "${ALG_AG[$a]}/b/"
        expect_status "$a bearer route with a bad token" 401 '' -- -H "Authorization: Bearer $(mangle "${ALG_TOKEN[$a]}")" "${ALG_AG[$a]}/b/"
        expect_status "$a bearer route with the ${ALGS[0]} gateway's token" 401 '' -- -H "Authorization: Bearer $TOKEN" "${ALG_AG[$a]}/b/"
        ;;
    authgate-session)
        expect_status "session route with the cookie" 200 ok -- -H "$SESSION_HDR" "$AG/s/"
        expect_status "session route without a cookie (API client)" 401 '' -- "$AG/s/"
        expect_status "session route without a cookie (browser)" 302 '' -- -H 'Accept: text/html' "$AG/s/"
        ;;
    authgate-token)
        expect_status "client_credentials" 200 '' -- -H "Authorization: Basic $BASIC" -d grant_type=client_credentials "$AG/oauth2/token"
        grep -q '"access_token"' "$WORK/verify.body" || die "client_credentials: no access_token in $(head -c 300 "$WORK/verify.body")"
        expect_status "client_credentials with a wrong secret" 401 '' -- \
            -u "$CLIENT_ID:$(mangle "$CLIENT_SECRET")" -d grant_type=client_credentials "$AG/oauth2/token"
        ;;
    *) die "verify: unknown server $1" ;;
    esac
}

# ------------------------------------------------------------ benchmark ----
BUSY_START=$(cpu_busy_pct)
if ((BUSY_START > 10)); then
    warn "CPUs are ${BUSY_START}% busy before the benchmark: other work on this machine will skew the numbers"
fi
RESULTS="$WORK/results.tsv"
: >"$RESULTS"
ERRNOTES="$WORK/errors.txt"
: >"$ERRNOTES"
LOGINS="$WORK/logins.tsv"    # round, then the login driver's key=value summary
: >"$LOGINS"

declare -A URL ARGS
URL[nginx]="$NGX/b/"
URL[authgate-none]="$AG/"
URL[authgate-bearer]="$AG/b/"
URL[authgate-session]="$AG/s/"
URL[authgate-token]="$AG/oauth2/token"
# wrk options per server, one string each (split on '|').
ARGS[nginx]=''
ARGS[authgate-none]=''
ARGS[authgate-bearer]="-H|Authorization: Bearer $TOKEN"
ARGS[authgate-session]="-H|$SESSION_HDR"
ARGS[authgate-token]="-s|$BENCH/token.lua|-H|Authorization: Basic $BASIC"
for a in "${!ALG_AG[@]}"; do
    URL[authgate-bearer-$a]="${ALG_AG[$a]}/b/"
    ARGS[authgate-bearer-$a]="-H|Authorization: Bearer ${ALG_TOKEN[$a]}"
done
wrk_args() { # SERVER -> WRK_ARGV array
    WRK_ARGV=()
    [[ -z ${ARGS[$1]} ]] || IFS='|' read -r -a WRK_ARGV <<<"${ARGS[$1]}"
}

warmup() { # GROUP SERVER...
    local group=$1 s
    shift
    [[ $WARMUP != 0 && $WARMUP != 0[smh] ]] || return 0
    log "$group: warm-up ($WARMUP each)"
    for s in "$@"; do
        verify "$s"
        wrk_args "$s"
        run_wrk "$s warm-up" "${URL[$s]}" "$WARMUP" "$WORK/wrk-$group-$s-warmup.txt" "${WRK_ARGV[@]}"
    done
}

measure() { # GROUP SERVER ROUND [URL_SERVER]: verify, then one bench_one
    local group=$1 server=$2 round=$3 target=${4:-$2}
    verify "$target"
    wrk_args "$target"
    bench_one "$group" "$server" "$round" "${URL[$target]}" "${WRK_ARGV[@]}"
}

# Part 1: nginx (no auth) and authgate on the none, bearer and session routes.
if want_part routes; then
    servers=()
    for s in $ROUTE_SERVERS; do
        servers+=("$s")
        if [[ $s == authgate-bearer ]]; then
            for ((i = 1; i < ${#ALGS[@]}; i++)); do servers+=("authgate-bearer-${ALGS[i]}"); done
        fi
    done
    warmup routes "${servers[@]}"
    log "routes: $ROUNDS rounds x ${DURATION}, $CONNS connections"
    for ((r = 1; r <= ROUNDS; r++)); do
        order=("${servers[@]}")
        # With several algorithms, every other round runs the servers in reverse order, so that
        # neither bearer route always runs first.
        if ((${#ALGS[@]} > 1 && r % 2 == 0)); then
            order=()
            for ((i = ${#servers[@]} - 1; i >= 0; i--)); do order+=("${servers[i]}"); done
        fi
        for s in "${order[@]}"; do measure routes "$s" "$r"; done
    done
    AG_RSS+=("after part 1 (routes) $(rss_kib "$AG_PID")")
fi

# Part 2: client_credentials over keep-alive.
if want_part token; then
    warmup token authgate-token
    log "token: $ROUNDS rounds x ${DURATION}, $CONNS connections, POST /oauth2/token"
    for ((r = 1; r <= ROUNDS; r++)); do
        measure token authgate "$r" authgate-token
    done
    AG_RSS+=("after part 2 (token) $(rss_kib "$AG_PID")")
fi

# Part 3: the auth=none route alone, and while the login driver (CPU 0, with wrk) signs in
# LOGIN_RATE times a second. bench_one runs these hooks inside the measured window.
start_login_driver() { # GROUP SERVER ROUND
    local i
    rm -f "$WORK/login.ready" "$WORK/login.stop"
    # With the open loop the driver runs at nice 19: it stands for browsers elsewhere, and at
    # normal priority it would delay the generator on the shared client CPU, which the
    # latencies (measured from the scheduled time) would charge to the server.
    local nice=()
    [[ $LOADGEN != open ]] || nice=(nice -n 19)
    "${PIN_CLIENT[@]}" "${nice[@]}" python3 "$BENCH/login.py" drive "$LOGIN_AG" /s/ "$USER_NAME" "$USER_PASSWORD" \
        "$LOGIN_RATE" "$WORK/login.ready" "$WORK/login.stop" --max-seconds 3600 \
        >"$WORK/login-$3.out" 2>&1 &
    DRIVER_PID=$!
    PIDS+=("$DRIVER_PID")
    for ((i = 0; i < 300; i++)); do
        [[ -e $WORK/login.ready ]] && return 0
        kill -0 "$DRIVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$WORK/login-$3.out" >&2
    die "the login driver did not get ready"
}
stop_login_driver() { # GROUP SERVER ROUND
    local rc=0 line
    touch "$WORK/login.stop"
    wait "$DRIVER_PID" || rc=$?
    forget_pid "$DRIVER_PID"
    line=$(tail -n 1 "$WORK/login-$3.out")
    if ((rc != 0)) || [[ $line != window_s=* ]]; then
        cat "$WORK/login-$3.out" >&2
        die "the login driver failed (status $rc)"
    fi
    printf '%s\t%s\n' "$3" "$line" >>"$LOGINS"
    log "  login driver: $line"
}
if want_part login; then
    # The capacity (for the open rate) is always authgate's none route, so that a control run
    # with LOGIN_VICTIM=nginx offers the same load.
    warmup login "$LOGIN_VICTIM"
    if [[ $LOGIN_LOAD == open ]]; then
        # Open loop: a fixed request rate below capacity (see bench/README.md for why).
        if [[ -z $OPEN_RATE ]]; then
            log "login: the none route's capacity (wrk, closed loop, $CONNS connections, $DURATION)"
            measure capacity authgate-none 1
            MAX_RPS=$(awk -F'\t' '$1 == "capacity" {r = $4} END {print r}' "$RESULTS")
            OPEN_RATE=$(awk -v m="$MAX_RPS" -v f="$OPEN_FRACTION" 'BEGIN {printf "%.0f", m * f}')
            ((OPEN_RATE > 0)) || die "capacity run gave no rate ($MAX_RPS req/s)"
        fi
        LOADGEN=open
        if [[ $WARMUP != 0 && $WARMUP != 0[smh] ]]; then
            log "login: open-loop warm-up ($WARMUP at $OPEN_RATE req/s)"
            run_openloop "open-loop warm-up" "${URL[$LOGIN_VICTIM]}" "$WARMUP" "$WORK/open-login-warmup.txt"
        fi
        log "login: $ROUNDS rounds x ${DURATION}, open loop at $OPEN_RATE req/s over $CONNS connections on $LOGIN_VICTIM, alone / with $LOGIN_RATE logins/s on $LOGIN_HOST"
    else
        log "login: $ROUNDS rounds x ${DURATION}, $CONNS connections on $LOGIN_VICTIM, alone / with $LOGIN_RATE logins/s on $LOGIN_HOST"
    fi
    for ((r = 1; r <= ROUNDS; r++)); do
        measure login alone "$r" "$LOGIN_VICTIM"
        PRE_RUN=start_login_driver POST_RUN=stop_login_driver
        measure login logins "$r" "$LOGIN_VICTIM"
        PRE_RUN='' POST_RUN=''
    done
    LOADGEN=wrk
    AG_RSS+=("after part 3 (login) $(rss_kib "$AG_PID")")
fi

BUSY_END=$(cpu_busy_pct)

# ------------------------------------------------------------- report ----
[[ -s $RESULTS ]] || die "no results"
{
    echo "## authgate with authentication: protected routes, token issuance, logins"
    echo
    echo "- started: $START_DATE, host: $(uname -sr), CPUs: $NCPU ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo))"
    echo "- authgate: $(authgate_desc); $(tool_versions)"
    echo "- token store: $STORE_DESC"
    if ((${#PIN_SERVER[@]})); then
        echo "- pinning: servers (upstream nginx, nginx proxy, authgate) on CPU $SERVER_CPU; wrk and the login driver on CPU $CLIENT_CPU"
    else
        echo "- pinning: none (see warnings)"
    fi
    echo "- wrk -t1 -c$CONNS -d$DURATION --latency; $ROUNDS interleaved rounds per part after a $WARMUP warm-up per server; plain HTTP/1.1, keep-alive; upstream: nginx \`return 200 \"ok\\n\"\`"
    echo "- authgate routes: \`/b/\` auth = \"bearer\", scopes [\"api:read\"] (a client_credentials JWT); \`/s/\` auth = \"session\", scopes [\"app\"] (a session from the login page); \`/\` auth = \"none\"; nginx: plain proxy_pass, no auth"
    echo "- user password hash: argon2id $ARGON2_PARAMS; login driver: $LOGIN_RATE sign-ins/s (GET /s/, login page, POST /oauth2/login, authorize, callback)"
    if want_part login && [[ $LOGIN_LOAD == open ]]; then
        echo "- part 3 load: open loop (bench/openloop.rs), $OPEN_RATE req/s over $CONNS keep-alive connections, latency from each request's scheduled time$(
            [[ -n ${MAX_RPS:-} ]] && printf ' (%s × the none route'"'"'s %s req/s under wrk)' "$OPEN_FRACTION" "$MAX_RPS")"
    elif want_part login; then
        echo "- part 3 load: wrk closed loop at saturation ($CONNS connections)"
    fi
    if want_part login && [[ $LOGIN_HOST == neighbour || $LOGIN_VICTIM == nginx ]]; then
        echo "- part 3 control: measured $LOGIN_VICTIM; logins sent to $(
            [[ $LOGIN_HOST == neighbour ]] && echo "a second gateway on the servers' CPU (the measured server does no hashing)" || echo "the measured gateway")"
    fi
    echo "- CPU busy (all CPUs, 2 s sample, servers idle) before the benchmark: ${BUSY_START}%, after: ${BUSY_END}%"
    echo
}

python3 - "$RESULTS" "$LOGINS" "$LOGIN_RATE" "$LOGIN_LOAD" "$LOGIN_VICTIM" "$LOGIN_HOST" "$TOKEN_ALGORITHMS" <<'PY'
import sys, statistics
from collections import defaultdict

results, logins_path, login_rate, login_load = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
victim = "nginx proxy_pass" if sys.argv[5] == "nginx" else "`/` auth = none"
where = " on a neighbour gateway" if sys.argv[6] == "neighbour" else ""
runs = defaultdict(list)   # (group, server) -> [dict]
for line in open(results):
    if not line.strip():
        continue
    f = line.rstrip("\n").split("\t")
    g, s, rnd, rps, p50, p99, non2xx, sockerr, reqs, other = f[:10]
    r = dict(round=int(rnd), rps=float(rps), p50=float(p50), p99=float(p99),
             errors=int(non2xx) + int(sockerr), non2xx=int(non2xx),
             sockerr=int(sockerr), reqs=int(reqs), other=int(other), open=len(f) > 10)
    if r["open"]:  # the open-loop generator's extra columns
        r.update(zip(("p90", "p999", "max", "target", "pacer_p99"), map(float, f[10:15])))
    runs[(g, s)].append(r)
logins = {}
for line in open(logins_path):
    if line.strip():
        rnd, kv = line.rstrip("\n").split("\t", 1)
        logins[int(rnd)] = dict(x.split("=", 1) for x in kv.split())

QUIET = 10  # "other CPU load" (% of a CPU) under which a run counts as undisturbed
med = statistics.median

def agg(group, server, keep):
    rs = [r for r in runs.get((group, server), []) if keep(r)]
    if not rs:
        return None
    a = dict(n=len(rs), rps=med([r["rps"] for r in rs]), p50=med([r["p50"] for r in rs]),
             p99=med([r["p99"] for r in rs]), errors=sum(r["errors"] for r in rs),
             rounds={r["round"] for r in rs})
    if all(r["open"] for r in rs):
        for k in ("p90", "p999", "max", "target", "pacer_p99"):
            a[k] = med([r[k] for r in rs])
    return a

def fmt_row(cells):
    return "| " + " | ".join(cells) + " |"

def verdict(ok, text):
    return ("met (%s)" % text) if ok else ("**missed** (%s)" % text)

ALGS = sys.argv[7].split()
ROUTES = [("nginx", "nginx proxy_pass", "no auth"),
          ("authgate-none", "authgate", "`/` none"),
          ("authgate-bearer", "authgate", "`/b/` bearer" + (" (%s access tokens)" % ALGS[0] if len(ALGS) > 1 else ""))] + \
         [("authgate-bearer-" + a, "authgate (2nd gateway)", "`/b/` bearer (%s access tokens)" % a) for a in ALGS[1:]] + \
         [("authgate-session", "authgate", "`/s/` session")]
BEARERS = ("authgate-bearer",) + tuple("authgate-bearer-" + a for a in ALGS[1:])

def routes_table(keep):
    base, none = agg("routes", "nginx", keep), agg("routes", "authgate-none", keep)
    print("| server | route | rounds | req/s | p50 ms | p99 ms | errors | req/s ÷ nginx | p99 ÷ nginx | target: ≥ 0.95× req/s, p99 ≤ 1.25× | req/s ÷ authgate none | p99 ÷ authgate none |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for key, name, route in ROUTES:
        a = agg("routes", key, keep)
        if a is None:
            print(fmt_row([name, route, "0", "–", "–", "–", "–", "", "", "", "", ""]))
            continue
        cells = [name, route, str(a["n"]), "%.0f" % a["rps"], "%.3f" % a["p50"], "%.3f" % a["p99"], str(a["errors"])]
        if key == "nginx" or base is None:
            cells += ["", "", ""]
        else:
            rr, pr = a["rps"] / base["rps"], a["p99"] / base["p99"]
            cells += ["**%.2f**" % rr, "**%.2f**" % pr]
            if key == "authgate-none":
                cells.append("(reference)")
            else:
                ok = rr >= 0.95 and pr <= 1.25 and a["errors"] == 0
                cells.append(verdict(ok, "%.2f× req/s, %.2f× p99%s" % (rr, pr, ", errors" if a["errors"] else "")))
        if (key in BEARERS or key == "authgate-session") and none:
            cells += ["%.2f" % (a["rps"] / none["rps"]), "%.2f" % (a["p99"] / none["p99"])]
        else:
            cells += ["", ""]
        print(fmt_row(cells))
    print()
    if len(ALGS) > 1:
        alg_table(keep)

def alg_table(keep):
    """Each further algorithm's bearer route against the first's, same rounds (issue 14)."""
    first = agg("routes", "authgate-bearer", keep)
    if first is None:
        return
    print("Bearer route by access-token algorithm (issue 14 target: ES256 ≥ 0.95× HS256's req/s, same run):")
    print()
    print("| access tokens | rounds | req/s | p99 ms | req/s ÷ %s (medians) | per-round req/s ÷ %s | p99 ÷ %s | target: ≥ 0.95× |" % ((ALGS[0],) * 3))
    print("|---|---:|---:|---:|---:|---|---:|---|")
    print(fmt_row([ALGS[0], str(first["n"]), "%.0f" % first["rps"], "%.3f" % first["p99"], "", "", "", "(reference)"]))
    base = {r["round"]: r for r in runs.get(("routes", "authgate-bearer"), []) if keep(r)}
    for a in ALGS[1:]:
        x = agg("routes", "authgate-bearer-" + a, keep)
        if x is None:
            continue
        per = sorted(r["rps"] / base[r["round"]]["rps"] for r in runs[("routes", "authgate-bearer-" + a)]
                     if keep(r) and r["round"] in base)
        rr = x["rps"] / first["rps"]
        print(fmt_row([a, str(x["n"]), "%.0f" % x["rps"], "%.3f" % x["p99"], "**%.2f**" % rr,
                       ", ".join("%.2f" % v for v in per) + (" (median %.2f)" % med(per) if per else ""),
                       "%.2f" % (x["p99"] / first["p99"]),
                       verdict(rr >= 0.95 and x["errors"] == 0, "%.2f×" % rr)]))
    print()

def token_table(keep):
    a = agg("token", "authgate", keep)
    print("| endpoint | rounds | token responses/s | p50 ms | p99 ms | errors | target: ≥ 20,000/s |")
    print("|---|---:|---:|---:|---:|---:|---|")
    if a:
        ok = a["rps"] >= 20000 and a["errors"] == 0
        print(fmt_row(["POST /oauth2/token (client_credentials, Basic)", str(a["n"]), "%.0f" % a["rps"],
                       "%.3f" % a["p50"], "%.3f" % a["p99"], str(a["errors"]),
                       verdict(ok, "%.2f× the target" % (a["rps"] / 20000))]))
    print()

def login_table(keep):
    alone, busy = agg("login", "alone", keep), agg("login", "logins", keep)
    print("| server, load | rounds | req/s | p50 ms | p99 ms | errors | logins/s (303) | logins ok / started | req/s ÷ alone | p99 ÷ alone | target: p99 rises < 20 % |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, a in (("%s, alone" % victim, alone), ("%s, with %g logins/s%s" % (victim, login_rate, where), busy)):
        if a is None:
            continue
        cells = [name, str(a["n"]), "%.0f" % a["rps"], "%.3f" % a["p50"], "%.3f" % a["p99"], str(a["errors"])]
        if a is busy:
            ls = [logins[r] for r in sorted(a["rounds"]) if r in logins]
            rate = med([float(l["login_303_per_s"]) for l in ls]) if ls else float("nan")
            ok_n = sum(int(l["sessions"]) for l in ls)
            started = sum(int(l["started"]) for l in ls)
            cells += ["%.1f" % rate, "%d / %d" % (ok_n, started)]
            if alone:
                rr, pr = a["rps"] / alone["rps"], a["p99"] / alone["p99"]
                ok = pr < 1.20 and a["errors"] == 0
                cells += ["**%.2f**" % rr, "**%.2f**" % pr,
                          verdict(ok, "p99 %+.0f %%" % ((pr - 1) * 100))]
            else:
                cells += ["", "", ""]
        else:
            cells += ["", "", "", "", ""]
        print(fmt_row(cells))
    print()

def login_open_table(keep):
    alone, busy = agg("login", "alone", keep), agg("login", "logins", keep)
    print("| server, load | rounds | req/s (target) | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | logins/s (303) | logins ok / started | p99 ÷ alone | p99.9 ÷ alone | target: p99 rises < 20 %% at %g logins/s |" % login_rate)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, a in (("%s, alone" % victim, alone), ("%s, with %g logins/s%s" % (victim, login_rate, where), busy)):
        if a is None:
            continue
        cells = [name, str(a["n"]), "%.0f (%.0f)" % (a["rps"], a["target"])] + \
            ["%.3f" % a[k] for k in ("p50", "p90", "p99", "p999", "max")] + [str(a["errors"])]
        if a is busy:
            ls = [logins[r] for r in sorted(a["rounds"]) if r in logins]
            rate = med([float(l["login_303_per_s"]) for l in ls]) if ls else float("nan")
            ok_n = sum(int(l["sessions"]) for l in ls)
            started = sum(int(l["started"]) for l in ls)
            cells += ["%.1f" % rate, "%d / %d" % (ok_n, started)]
            if alone:
                pr, pr3 = a["p99"] / alone["p99"], a["p999"] / alone["p999"]
                # The run only tests the target's load if the logins really happened.
                valid = rate >= 0.9 * login_rate and ok_n == started
                kept_up = a["rps"] >= 0.98 * a["target"]
                ok = pr < 1.20 and a["errors"] == 0 and valid and kept_up
                why = "p99 %+.0f %%" % ((pr - 1) * 100)
                if not valid:
                    why += "; **not valid**: %.1f logins/s < 0.9 × %g" % (rate, login_rate)
                if not kept_up:
                    why += "; the proxy fell behind the offered rate"
                cells += ["**%.2f**" % pr, "%.2f" % pr3, verdict(ok, why)]
            else:
                cells += ["", "", ""]
        else:
            cells += ["", "", "", "", ""]
        print(fmt_row(cells))
    print()
    stalled = ["%s round %d (max %.0f ms)" % (k, r["round"], r["max"]) for k in ("alone", "logins")
               for r in runs.get(("login", k), []) if keep(r) and r["max"] >= 100]
    if stalled:
        print("**Stalls** of 100 ms or more: %s. In an *alone* run that is other work on the machine "
              "(*other CPU load* does not see softirq time, e.g. another benchmark's loopback traffic): "
              "the ratio above is then meaningless; re-run." % ", ".join(stalled))
        print()
    pairs = [(a["p99"], b["p99"]) for a in runs.get(("login", "alone"), []) for b in runs.get(("login", "logins"), [])
             if a["round"] == b["round"] and keep(a) and keep(b)]
    if pairs:
        print("p99 with logins ÷ p99 alone, per round (each pair ran back to back): %s; median %.2f."
              % (", ".join("%.2f" % (b / a) for a, b in pairs), med([b / a for a, b in pairs])))
        print()
    if alone and busy:
        # The latency is measured from the scheduled time, so the generator's own lateness is
        # part of it; on a VM whose vCPUs share host CPUs, work on the server's CPU delays the
        # generator too (bench/README.md, "Reused argon2 memory").
        grew = busy["pacer_p99"] - alone["pacer_p99"]
        print("The load generator's own lateness (pacer p99, median): %.3f ms alone, %.3f ms with logins; "
              "the %+.3f ms difference is %+.0f %% of the alone p99 and is counted in the server's latency."
              % (alone["pacer_p99"], busy["pacer_p99"], grew, 100 * grew / alone["p99"]))
        print()

def all_runs():
    return [r for rs in runs.values() for r in rs]

SECTIONS = [
    ("routes", "### 1. Protected routes vs nginx proxy_pass (issue 5 targets)", routes_table),
    ("token", "### 2. client_credentials issuance (issue 4 target)", token_table),
    ("login", "### 3. The proxy while logins hash passwords (issue 4 target)",
     login_open_table if login_load == "open" else login_table),
]
mixed = any(r["other"] >= QUIET for r in all_runs()) and any(r["other"] < QUIET for r in all_runs())
for group, title, table in SECTIONS:
    if not any(g == group for g, _ in runs):
        continue
    print(title + " — median over rounds")
    print()
    table(lambda r: True)
    if mixed and any(r["other"] >= QUIET for (g, _), rs in runs.items() if g == group for r in rs):
        print("Over undisturbed runs only (other CPU load < %d %%):" % QUIET)
        print()
        table(lambda r: r["other"] < QUIET)
    if group == "login" and logins:
        print("Login driver per round (on CPU 0 with wrk; a sign-in = GET /s/, GET login page, "
              "POST /oauth2/login, GET authorize, GET callback; counts are for sign-ins started "
              "during the wrk run):")
        print()
        print("| round | window s | started | started/s | POST 303 | 303/s | sessions | failed | late starts | POST p50 ms | POST p99 ms | sign-in p50 ms | sign-in p99 ms | first error |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for rnd in sorted(logins):
            l = logins[rnd]
            print(fmt_row([str(rnd)] + [l.get(k, "?") for k in (
                "window_s", "started", "started_per_s", "login_303", "login_303_per_s", "sessions",
                "failed", "late_starts", "post_p50_ms", "post_p99_ms", "signin_p50_ms",
                "signin_p99_ms", "first_error")]))
        print()

print("### Raw rounds")
print()
print("| part | round | server | req/s | p50 ms | p99 ms | requests | non-2xx/3xx | socket errors | other CPU load | open loop |")
print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
for g in ["capacity"] + [x[0] for x in SECTIONS]:
    keys = [k for k in runs if k[0] == g]
    rounds = sorted({r["round"] for k in keys for r in runs[k]})
    for rnd in rounds:
        for k in keys:
            for r in runs[k]:
                if r["round"] == rnd:
                    print("| %s | %d | %s | %.0f | %.3f | %.3f | %d | %d | %d | %d%% |%s" % (
                        g, rnd, k[1], r["rps"], r["p50"], r["p99"], r["reqs"], r["non2xx"], r["sockerr"], r["other"],
                        " p99.9 %.3f, max %.3f, pacer p99 %.3f ms |" % (r["p999"], r["max"], r["pacer_p99"]) if r["open"] else " |"))
print()
busy = [r for r in all_runs() if r["other"] >= QUIET]
if busy:
    print("**Warning**: other processes used CPU during %d of %d measured runs (up to %d%% of a CPU; "
          "\"other CPU load\" above). On a 2-CPU machine they compete with the servers or wrk: "
          "those runs are not trustworthy. Re-run on a quiet machine."
          % (len(busy), len(all_runs()), max(r["other"] for r in busy)))
else:
    print("Other CPU load stayed under 10%% of a CPU in every measured run (max %d%%)."
          % max(r["other"] for r in all_runs()))
print()
PY

echo "authgate RSS (MiB): $(for x in "${AG_RSS[@]}"; do printf '%s %s; ' "${x% *}" "$(kib_to_mib "${x##* }")"; done | sed 's/; $//')."
echo

if [[ -s $ERRNOTES ]]; then
    echo "### Errors reported by wrk"
    echo
    cat "$ERRNOTES"
    echo
else
    echo "No non-2xx responses or socket errors in any measured run."
fi

# Server-side complaints (authgate at level=warn, nginx error logs).
print_server_logs
