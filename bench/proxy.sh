#!/usr/bin/env bash
# bench/proxy.sh — throughput/latency of authgate (auth = "none") vs nginx proxy_pass.
#
# Usage:  bench/proxy.sh                      (from any directory)
#         ROUNDS=5 DURATION=20s CONNS=100 bench/proxy.sh > result.md
#
# Results (markdown) go to stdout, progress to stderr. See bench/README.md.
set -euo pipefail

# ---------------------------------------------------------------- knobs ----
ROUNDS=${ROUNDS:-3}            # measured rounds per server and mode
DURATION=${DURATION:-10s}      # length of each measured wrk run
WARMUP=${WARMUP:-3s}           # length of the warm-up run per server and mode
CONNS=${CONNS:-50}             # wrk connections
IDLE_CONNS=${IDLE_CONNS:-1000} # idle keep-alive connections for the memory test
MODES=${MODES:-"plain tls"}    # which modes to run
NO_BUILD=${NO_BUILD:-0}        # 1: do not run cargo build (use the existing binary)
# AUTHGATE_BIN=/path/to/authgate  use this binary instead of target/release/authgate (implies NO_BUILD=1)
NGINX_ONLY=${NGINX_ONLY:-0}    # 1: skip authgate entirely (tests the harness itself)
SERVER_CPU=${SERVER_CPU:-1}    # CPU for every server process
CLIENT_CPU=${CLIENT_CPU:-0}    # CPU for wrk / the idle-connection client
QUIET_WAIT=${QUIET_WAIT:-60}   # before each measured run, wait up to this many seconds for idle CPUs (0: don't)

ME=$(basename "$0")
log() { printf '==> %s\n' "$*" >&2; }
warn() { printf '%s: warning: %s\n' "$ME" "$*" >&2; }
die() { printf '%s: error: %s\n' "$ME" "$*" >&2; exit 1; }

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer (got '$ROUNDS')"
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "CONNS must be a positive integer (got '$CONNS')"
[[ $QUIET_WAIT =~ ^[0-9]+$ ]] || die "QUIET_WAIT must be a non-negative integer (got '$QUIET_WAIT')"
[[ $IDLE_CONNS =~ ^[0-9]+$ ]] || die "IDLE_CONNS must be a non-negative integer (got '$IDLE_CONNS')"
[[ $DURATION =~ ^[1-9][0-9]*[smh]?$ ]] || die "DURATION must look like 10s, 1m (got '$DURATION')"
[[ $WARMUP =~ ^[0-9]+[smh]?$ ]] || die "WARMUP must look like 3s, 0 to skip (got '$WARMUP')"
for m in $MODES; do
    [[ $m == plain || $m == tls ]] || die "MODES may contain only 'plain' and 'tls' (got '$m')"
done

START_DATE=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
REPO=$(cd "$(dirname "$0")/.." && pwd -P)
BENCH="$REPO/bench"
cd "$REPO"

# ------------------------------------------------------------- tooling ----
export PATH="$PATH:/usr/sbin:/sbin"
missing=()
for tool in nginx wrk openssl taskset curl python3; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
    log "installing missing tools: ${missing[*]}"
    SUDO=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to apt-get install: ${missing[*]}"
        SUDO=(sudo)
    fi
    pkgs=(nginx wrk openssl util-linux curl)
    command -v python3 >/dev/null 2>&1 || pkgs+=(python3)
    "${SUDO[@]}" apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "${pkgs[@]}" >&2 \
        || die "apt-get install ${pkgs[*]} failed"
    for tool in nginx wrk openssl taskset curl python3; do
        command -v "$tool" >/dev/null 2>&1 || die "'$tool' still missing after apt-get install"
    done
fi
NGINX_BIN=$(command -v nginx)

# CPU pinning: servers on SERVER_CPU, load generator on CLIENT_CPU.
PIN_SERVER=()
PIN_CLIENT=()
NCPU=$(nproc)
if ((NCPU < 2)); then
    warn "only $NCPU CPU available: running without taskset (client and servers share the CPU)"
elif ! taskset -c "$SERVER_CPU" true 2>/dev/null || ! taskset -c "$CLIENT_CPU" true 2>/dev/null; then
    warn "cannot pin to CPUs $SERVER_CPU/$CLIENT_CPU (cpuset?): running without taskset"
else
    PIN_SERVER=(taskset -c "$SERVER_CPU")
    PIN_CLIENT=(taskset -c "$CLIENT_CPU")
fi

# Enough file descriptors for IDLE_CONNS connections on both sides.
hard=$(ulimit -Hn)
want=65536
[[ $hard != unlimited ]] && ((hard < want)) && want=$hard
ulimit -n "$want" 2>/dev/null || warn "could not raise 'ulimit -n' to $want (is $(ulimit -n))"
if (($(ulimit -n) < IDLE_CONNS + 64)); then
    warn "ulimit -n is $(ulimit -n): too low for IDLE_CONNS=$IDLE_CONNS; lowering IDLE_CONNS"
    IDLE_CONNS=$(($(ulimit -n) - 64))
fi

# ----------------------------------------------------------- the build ----
if [[ -n ${AUTHGATE_BIN:-} ]]; then
    NO_BUILD=1   # an explicit binary is used as is
else
    AUTHGATE_BIN="$REPO/target/release/authgate"
fi
if [[ $NGINX_ONLY != 1 ]]; then
    if [[ $NO_BUILD != 1 ]]; then
        command -v cargo >/dev/null 2>&1 || die "cargo not found (install Rust, or NO_BUILD=1 with a built target/release/authgate)"
        log "cargo build --release"
        if ! cargo build --release --bin authgate >"${TMPDIR:-/tmp}/authgate-bench-build.$$.log" 2>&1; then
            tail -n 40 "${TMPDIR:-/tmp}/authgate-bench-build.$$.log" >&2
            rm -f "${TMPDIR:-/tmp}/authgate-bench-build.$$.log"
            die "cargo build --release failed (last 40 lines above)"
        fi
        rm -f "${TMPDIR:-/tmp}/authgate-bench-build.$$.log"
    fi
    [[ -x $AUTHGATE_BIN ]] || die "$AUTHGATE_BIN not found (build it, or unset NO_BUILD)"
fi

# ------------------------------------------------- work dir and cleanup ----
WORK=$(mktemp -d "${TMPDIR:-/tmp}/authgate-bench.XXXXXX")
chmod 0755 "$WORK"   # nginx workers may run as 'nobody' when started as root
PIDS=()              # every process we start, in start order
MEM_NOTES=()

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if ((rc != 0)) && [[ -d ${WORK:-} ]]; then
        # Failed: show what the servers said before their logs go away.
        local f
        for f in "$WORK"/authgate-*.log "$WORK"/nginx/error.log "$WORK"/upstream/error.log; do
            [[ -s $f ]] || continue
            echo "----- ${f#"$WORK"/} (last 30 lines) -----" >&2
            tail -n 30 "$f" | sed -E 's/\x1b\[[0-9;]*m//g' >&2
        done
    fi
    local i pid kids=() deadline
    # Children first (nginx workers), recorded by parent PID before the parent goes away.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        pid=${PIDS[i]}
        kill -0 "$pid" 2>/dev/null || continue
        # shellcheck disable=SC2207
        kids+=($(pgrep -P "$pid" 2>/dev/null || true))
        kill -TERM "$pid" 2>/dev/null || true
    done
    deadline=$((SECONDS + 5))
    for pid in "${PIDS[@]}" "${kids[@]}"; do
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            warn "PID $pid did not exit on SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    wait 2>/dev/null || true
    if [[ ${KEEP_WORK:-0} == 1 ]]; then
        log "work dir kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT INT TERM

# Drop a reaped PID from PIDS, so that cleanup never signals a recycled PID.
forget_pid() {
    local i
    for i in "${!PIDS[@]}"; do
        [[ ${PIDS[i]} == "$1" ]] && unset 'PIDS[i]'
    done
    PIDS=("${PIDS[@]}")
}

# Start a background server pinned to SERVER_CPU; record its PID.
#   start_bg NAME LOGFILE CMD...    -> sets LAST_PID
start_bg() {
    local name=$1 logf=$2
    shift 2
    "${PIN_SERVER[@]}" "$@" >"$logf" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

# Wait until URL answers anything HTTP (any status), or die showing LOGFILE.
wait_up() {
    local name=$1 url=$2 pid=$3 logf=$4 i
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "----- $name output ($logf) -----" >&2
            cat "$logf" >&2 || true
            echo "-----" >&2
            die "$name (PID $pid) exited during startup"
        fi
        if curl -sk -o /dev/null --max-time 1 "$url"; then
            return 0
        fi
        sleep 0.1
    done
    echo "----- $name output ($logf) -----" >&2
    cat "$logf" >&2 || true
    echo "-----" >&2
    die "$name did not accept connections on $url within 10 s"
}

# Free loopback ports: bind them all at once (so they differ), then release.
read -r UP_PORT NGX_PORT NGX_TLS_PORT AG_PORT AG_TLS_PORT < <(python3 - <<'PY'
import socket
socks = []
for _ in range(5):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
)
[[ -n ${AG_TLS_PORT:-} ]] || die "could not pick free ports"

# ----------------------------------------------------------- TLS material ----
log "self-signed certificate (EC P-256, CN/SAN 127.0.0.1)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    >"$WORK/openssl.log" 2>&1 || { cat "$WORK/openssl.log" >&2; die "openssl req failed"; }
chmod 0600 "$WORK/key.pem"

# -------------------------------------------------------- nginx configs ----
# Common head of both nginx configs. keepalive_requests is raised everywhere:
# nginx's default (1000) would make nginx — but not authgate — close the client
# connection every 1000 requests, costing it a reconnect (and a TLS handshake).
nginx_common() { # $1 = instance dir
    cat <<EOF
worker_processes 1;
pid $1/nginx.pid;
error_log $1/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 8192; multi_accept off; }
http {
    access_log off;
    default_type text/plain;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path $1/tmp/body;
    proxy_temp_path $1/tmp/proxy;
    fastcgi_temp_path $1/tmp/fastcgi;
    uwsgi_temp_path $1/tmp/uwsgi;
    scgi_temp_path $1/tmp/scgi;
EOF
}

mkdir -p "$WORK/upstream/tmp" "$WORK/nginx/tmp"
{
    nginx_common "$WORK/upstream"
    cat <<EOF
    server {
        listen 127.0.0.1:$UP_PORT;
        location / { return 200 "ok\n"; }
    }
}
EOF
} >"$WORK/upstream/nginx.conf"

{
    nginx_common "$WORK/nginx"
    cat <<EOF
    upstream backend {
        server 127.0.0.1:$UP_PORT;
        keepalive 64;
        keepalive_requests 1000000;
    }
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    server {
        listen 127.0.0.1:$NGX_PORT;
        location / { proxy_pass http://backend; }
    }
    server {
        listen 127.0.0.1:$NGX_TLS_PORT ssl;
        ssl_certificate $WORK/cert.pem;
        ssl_certificate_key $WORK/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { proxy_pass http://backend; }
    }
}
EOF
} >"$WORK/nginx/nginx.conf"

for inst in upstream nginx; do
    "$NGINX_BIN" -t -q -p "$WORK/$inst" -c "$WORK/$inst/nginx.conf" -e "$WORK/$inst/error.log" \
        -g 'daemon off;' >"$WORK/$inst/test.log" 2>&1 \
        || { cat "$WORK/$inst/test.log" >&2; die "nginx -t failed for the $inst config"; }
done

# ---------------------------------------------------------- start them ----
log "starting upstream nginx on 127.0.0.1:$UP_PORT"
start_bg upstream "$WORK/upstream/stderr.log" \
    "$NGINX_BIN" -p "$WORK/upstream" -c "$WORK/upstream/nginx.conf" -e "$WORK/upstream/error.log" -g 'daemon off;'
UP_PID=$LAST_PID
wait_up "upstream nginx" "http://127.0.0.1:$UP_PORT/" "$UP_PID" "$WORK/upstream/stderr.log"
[[ $(curl -s "http://127.0.0.1:$UP_PORT/") == ok ]] || die "upstream does not answer 'ok'"

log "starting nginx proxy on 127.0.0.1:$NGX_PORT (TLS :$NGX_TLS_PORT)"
start_bg nginx "$WORK/nginx/stderr.log" \
    "$NGINX_BIN" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" -g 'daemon off;'
NGX_PID=$LAST_PID
wait_up "nginx proxy" "http://127.0.0.1:$NGX_PORT/" "$NGX_PID" "$WORK/nginx/stderr.log"
wait_up "nginx proxy (TLS)" "https://127.0.0.1:$NGX_TLS_PORT/" "$NGX_PID" "$WORK/nginx/stderr.log"

write_authgate_config() { # $1 = plain|tls
    local mode=$1 port scheme tls
    if [[ $mode == plain ]]; then
        port=$AG_PORT scheme=http tls='mode = "off"'
    else
        port=$AG_TLS_PORT scheme=https
        tls=$(printf 'mode = "files"\ncert = "%s"\nkey = "%s"' "$WORK/cert.pem" "$WORK/key.pem")
    fi
    mkdir -p "$WORK/data-$mode"
    cat >"$WORK/authgate-$mode.toml" <<EOF
# generated by bench/proxy.sh
[server]
listen = "127.0.0.1:$port"
public_url = "$scheme://127.0.0.1:$port"
data_dir = "$WORK/data-$mode"

[server.tls]
$tls

[log]
access = false
level = "warn"

[[routes]]
path = "/"
upstream = "http://127.0.0.1:$UP_PORT"
auth = "none"
EOF
}

AG_PID_plain='' AG_PID_tls='' # set via printf -v below
if [[ $NGINX_ONLY != 1 ]]; then
    for mode in plain tls; do
        write_authgate_config "$mode"
        if [[ $mode == plain ]]; then url="http://127.0.0.1:$AG_PORT/"; else url="https://127.0.0.1:$AG_TLS_PORT/"; fi
        log "starting authgate ($mode) on ${url%/}"
        start_bg "authgate-$mode" "$WORK/authgate-$mode.log" \
            "$AUTHGATE_BIN" serve --config "$WORK/authgate-$mode.toml"
        printf -v "AG_PID_$mode" '%s' "$LAST_PID"
        wait_up "authgate ($mode)" "$url" "$LAST_PID" "$WORK/authgate-$mode.log"
        body=$(curl -sk "$url") || true
        if [[ $body != ok ]]; then
            cat "$WORK/authgate-$mode.log" >&2
            die "authgate ($mode) does not proxy to the upstream: GET $url answered '$body'"
        fi
    done
fi

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
kib_to_mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
AG_RSS_START=0 AG_THREADS='?'
if [[ -n $AG_PID_plain ]]; then
    AG_RSS_START=$(rss_kib "$AG_PID_plain")
    AG_THREADS=$(awk '/^Threads:/ {print $2}' "/proc/$AG_PID_plain/status" 2>/dev/null || echo '?')
fi

# ------------------------------------------------------------ benchmark ----
# Share of all CPUs busy over 2 s (from /proc/stat), while our servers sit idle:
# anything much above 0 is other work (a build...) that will skew the numbers.
cpu_busy_pct() { # [SECONDS=2]
    local a b
    a=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9; exit}' /proc/stat)
    sleep "${1:-2}"
    b=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9; exit}' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
        t = y[2] - x[2]; printf "%.0f", (t > 0 ? 100 * (y[1] - x[1]) / t : 0) }'
}
BUSY_START=$(cpu_busy_pct)
if ((BUSY_START > 10)); then
    warn "CPUs are ${BUSY_START}% busy before the benchmark: other work on this machine will skew the numbers"
fi
RESULTS="$WORK/results.tsv"
: >"$RESULTS"
ERRNOTES="$WORK/errors.txt"
: >"$ERRNOTES"

# run_wrk LABEL URL DURATION OUTFILE
run_wrk() {
    local label=$1 url=$2 dur=$3 out=$4
    # In the background + wait, so that a SIGTERM reaches the trap at once
    # (bash runs traps only after a foreground child exits).
    "${PIN_CLIENT[@]}" wrk -t1 -c"$CONNS" -d"$dur" --latency "$url" >"$out" 2>&1 &
    local wpid=$! wrc=0
    PIDS+=("$wpid")
    wait "$wpid" || wrc=$?
    forget_pid "$wpid"
    if ((wrc != 0)); then
        cat "$out" >&2
        check_servers
        die "wrk failed with status $wrc ($label, $url)"
    fi
}

# parse_wrk OUTFILE -> "rps p50_ms p99_ms non2xx socket_errors requests"
parse_wrk() {
    awk '
    function ms(v) {
        if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
        if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
        if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
        if (v ~ /m$/)  return substr(v, 1, length(v) - 1) * 60000
        if (v ~ /h$/)  return substr(v, 1, length(v) - 1) * 3600000
        return v + 0
    }
    /Latency Distribution/ { dist = 1; next }
    dist && $1 == "50%" { p50 = ms($2) }
    dist && $1 == "99%" { p99 = ms($2); dist = 0 }
    /^Requests\/sec:/ { rps = $2 }
    / requests in / { reqs = $1 }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ {
        # Socket errors: connect 0, read 0, write 0, timeout 0
        gsub(/,/, "")
        sockerr = $4 + $6 + $8 + $10
    }
    END {
        if (rps == "" || p50 == "" || p99 == "") exit 1
        printf "%s %.3f %.3f %d %d %d\n", rps, p50, p99, non2xx + 0, sockerr + 0, reqs + 0
    }' "$1"
}

# CPU time (user+system jiffies) of the whole machine, and of everything this
# script started: the servers (with nginx's workers) plus this shell and the
# children it has reaped (wrk, python...). The difference over a run is CPU
# used by other work on the machine, which skews the result.
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
machine_jiffies() { awk '/^cpu / {print $2 + $3 + $4; exit}' /proc/stat; }
own_jiffies() {
    local p all=() files=()
    for p in "${PIDS[@]}"; do
        # shellcheck disable=SC2207
        all+=("$p" $(pgrep -P "$p" 2>/dev/null || true))
    done
    for p in "${all[@]}"; do [[ -r /proc/$p/stat ]] && files+=("/proc/$p/stat"); done
    # Fields after "pid (comm) ": $12 utime, $13 stime, $14 cutime, $15 cstime.
    {
        ((${#files[@]})) && cat "${files[@]}" 2>/dev/null | sed 's/^.*) //' | awk '{print $12 + $13}'
        sed 's/^.*) //' "/proc/$$/stat" | awk '{print $12 + $13 + $14 + $15}'
    } | awk '{s += $1} END {print s + 0}'
}

# Before a measured run, wait (at most QUIET_WAIT seconds) until the CPUs are
# idle, so that a build or the like elsewhere on the machine does not overlap it.
wait_quiet() {
    local waited=0 busy
    ((QUIET_WAIT > 0)) || return 0
    while busy=$(cpu_busy_pct 1) && ((busy > 10)); do
        if ((waited == 0)); then log "  CPUs ${busy}% busy with other work: waiting up to ${QUIET_WAIT}s for quiet"; fi
        waited=$((waited + 1))
        if ((waited >= QUIET_WAIT)); then
            log "  still ${busy}% busy after ${QUIET_WAIT}s: measuring anyway (see 'other CPU load')"
            return 0
        fi
    done
}

# Die if a server we started has exited (crash, killed...), with its exit status.
check_alive() { # NAME PID LOGFILE
    local name=$1 pid=$2 logf=$3 st=0
    kill -0 "$pid" 2>/dev/null && return 0
    wait "$pid" 2>/dev/null || st=$?
    forget_pid "$pid"
    echo "----- $name output ($logf, last 40 lines) -----" >&2
    tail -n 40 "$logf" | sed -E 's/\x1b\[[0-9;]*m//g' >&2 || true
    echo "-----" >&2
    if ((st > 128)); then
        die "$name (PID $pid) died during the benchmark: killed by signal $((st - 128)) ($(kill -l $((st - 128)) 2>/dev/null || echo '?'))"
    fi
    die "$name (PID $pid) exited during the benchmark with status $st"
}
check_servers() {
    check_alive "upstream nginx" "$UP_PID" "$WORK/upstream/error.log"
    check_alive "nginx proxy" "$NGX_PID" "$WORK/nginx/error.log"
    [[ -z $AG_PID_plain ]] || check_alive "authgate (plain)" "$AG_PID_plain" "$WORK/authgate-plain.log"
    [[ -z $AG_PID_tls ]] || check_alive "authgate (tls)" "$AG_PID_tls" "$WORK/authgate-tls.log"
}

bench_one() { # MODE SERVER ROUND URL
    local mode=$1 server=$2 round=$3 url=$4 out parsed m0 o0 t0 m1 o1 t1 other
    out="$WORK/wrk-$mode-$server-$round.txt"
    wait_quiet
    check_servers
    m0=$(machine_jiffies) o0=$(own_jiffies) t0=$EPOCHREALTIME
    run_wrk "$server $mode round $round" "$url" "$DURATION" "$out"
    m1=$(machine_jiffies) o1=$(own_jiffies) t1=$EPOCHREALTIME
    # other work, in % of one CPU, averaged over the run
    other=$(awk -v m="$((m1 - m0))" -v o="$((o1 - o0))" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" \
        'BEGIN { x = (m - o) / ((t1 - t0) * hz) * 100; printf "%.0f", (x < 0 ? 0 : x) }')
    parsed=$(parse_wrk "$out") || { cat "$out" >&2; die "could not parse wrk output ($server $mode round $round)"; }
    read -r rps p50 p99 non2xx sockerr reqs <<<"$parsed"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$mode" "$server" "$round" "$rps" "$p50" "$p99" "$non2xx" "$sockerr" "$reqs" "$other" >>"$RESULTS"
    check_servers
    log "  round $round $(printf '%-8s' "$server") ${rps} req/s  p50 ${p50} ms  p99 ${p99} ms  (other CPU load ${other}%)$(
        ((non2xx + sockerr)) && printf '  !! non-2xx %s, socket errors %s' "$non2xx" "$sockerr")"
    if ((non2xx + sockerr)); then
        {
            # shellcheck disable=SC2016 # the backticks are markdown
            printf -- '- %s %s round %s: non-2xx/3xx responses %s, socket errors %s (of %s requests): `%s`\n' \
                "$mode" "$server" "$round" "$non2xx" "$sockerr" "$reqs" \
                "$(grep -E 'Socket errors|Non-2xx' "$out" | tr -s ' ' | paste -sd ';' -)"
        } >>"$ERRNOTES"
    fi
}

SERVERS=(nginx)
[[ $NGINX_ONLY != 1 ]] && SERVERS+=(authgate)

for mode in $MODES; do
    declare -A URL=()
    if [[ $mode == plain ]]; then
        URL[nginx]="http://127.0.0.1:$NGX_PORT/"
        URL[authgate]="http://127.0.0.1:$AG_PORT/"
    else
        URL[nginx]="https://127.0.0.1:$NGX_TLS_PORT/"
        URL[authgate]="https://127.0.0.1:$AG_TLS_PORT/"
    fi
    log "mode $mode: warm-up ($WARMUP each)"
    if [[ $WARMUP != 0 && $WARMUP != 0[smh] ]]; then
        for server in "${SERVERS[@]}"; do
            run_wrk "$server $mode warm-up" "${URL[$server]}" "$WARMUP" "$WORK/wrk-$mode-$server-warmup.txt"
        done
    fi
    log "mode $mode: $ROUNDS rounds x ${DURATION}, $CONNS connections"
    for ((r = 1; r <= ROUNDS; r++)); do
        for server in "${SERVERS[@]}"; do
            bench_one "$mode" "$server" "$r" "${URL[$server]}"
        done
    done
    unset URL
done

# -------------------------------------------------------- memory test ----
MEM_LINES=()
if ((IDLE_CONNS > 0)); then
    # hold_idle NAME PORT PID...  (RSS summed over the given PIDs)
    hold_idle() {
        local name=$1 port=$2
        shift 2
        local pids=("$@") before=0 during=0 after=0 p i closed_line
        rm -f "$WORK/idle.ready" "$WORK/idle.release"
        for p in "${pids[@]}"; do before=$((before + $(rss_kib "$p"))); done
        log "memory: $IDLE_CONNS idle keep-alive connections to $name (127.0.0.1:$port)"
        "${PIN_CLIENT[@]}" python3 "$BENCH/idle_conns.py" 127.0.0.1 "$port" "$IDLE_CONNS" \
            "$WORK/idle.ready" "$WORK/idle.release" >"$WORK/idle-$name.out" 2>&1 &
        local cpid=$!
        PIDS+=("$cpid")
        for ((i = 0; i < 600; i++)); do
            [[ -e $WORK/idle.ready ]] && break
            kill -0 "$cpid" 2>/dev/null || break
            sleep 0.1
        done
        [[ -e $WORK/idle.ready ]] || { cat "$WORK/idle-$name.out" >&2; die "idle-connection client for $name did not get ready"; }
        sleep 1   # let the server settle
        for p in "${pids[@]}"; do during=$((during + $(rss_kib "$p"))); done
        touch "$WORK/idle.release"
        wait "$cpid" || true
        forget_pid "$cpid"
        sleep 0.5
        for p in "${pids[@]}"; do after=$((after + $(rss_kib "$p"))); done
        closed_line=$(cat "$WORK/idle-$name.out")
        local opened ok closed
        opened=$(sed -n 's/.*opened=\([0-9]*\).*/\1/p' <<<"$closed_line")
        ok=$(sed -n 's/.*ok_2xx=\([0-9]*\).*/\1/p' <<<"$closed_line")
        closed=$(sed -n 's/.*closed_by_server_while_idle=\([0-9]*\).*/\1/p' <<<"$closed_line")
        MEM_LINES+=("$(printf '| %s | %s | %s | %s | %s | %s | %s/%s | %s |' \
            "$name" "$(kib_to_mib "$before")" "$(kib_to_mib "$during")" \
            "$((during - before))" \
            "$(awk -v d=$((during - before)) -v n="${opened:-0}" 'BEGIN { if (n > 0) printf "%.1f", d / n; else print "-" }')" \
            "$(kib_to_mib "$after")" "${ok:-?}" "$IDLE_CONNS" "${closed:-?}")")
        if [[ ${ok:-0} != "$IDLE_CONNS" || ${closed:-0} != 0 ]]; then
            MEM_NOTES+=("- $name idle test: $closed_line")
        fi
    }
    MEM_NOTES=()
    if [[ -n $AG_PID_plain ]]; then
        hold_idle authgate "$AG_PORT" "$AG_PID_plain"
    fi
    # nginx proxy for reference: master + worker(s)
    # shellcheck disable=SC2207
    NGX_ALL=("$NGX_PID" $(pgrep -P "$NGX_PID" || true))
    hold_idle "nginx (master+worker)" "$NGX_PORT" "${NGX_ALL[@]}"
fi

BUSY_END=$(cpu_busy_pct)

# ------------------------------------------------------------- report ----
[[ -s $RESULTS ]] || die "no results"
{
    echo "## authgate vs nginx proxy_pass"
    echo
    echo "- started: $START_DATE, host: $(uname -sr), CPUs: $NCPU ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo))"
    if [[ $NGINX_ONLY == 1 ]]; then
        ag_desc="not run (NGINX_ONLY=1)"
    elif rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null); then
        ag_desc="$rev$(git -C "$REPO" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes'), release build"
    else
        ag_desc="no commit yet (working tree), release build"
    fi
    echo "- authgate: $ag_desc; $("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //'); $(wrk -v 2>&1 | head -n1 | awk '{print "wrk " $2}'); $(openssl version | awk '{print $1, $2}')"
    if ((${#PIN_SERVER[@]})); then
        echo "- pinning: servers (upstream nginx, nginx proxy, authgate) on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU"
    else
        echo "- pinning: none (see warnings)"
    fi
    echo "- wrk -t1 -c$CONNS -d$DURATION --latency; $ROUNDS interleaved rounds per mode after a $WARMUP warm-up; upstream: nginx \`return 200 \"ok\\n\"\`"
    echo "- CPU busy (all CPUs, 2 s sample, servers idle) before the benchmark: ${BUSY_START}%, after: ${BUSY_END}%;" \
        "what other work took during each measured run is the 'other CPU load' column below"
    echo "- plain = HTTP/1.1 over TCP; tls = HTTPS (TLS 1.2/1.3, self-signed EC P-256 cert), keep-alive throughout"
    echo
} 

python3 - "$RESULTS" "$NGINX_ONLY" <<'PY'
import sys, statistics
from collections import defaultdict
path, nginx_only = sys.argv[1], sys.argv[2] == "1"
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
data = defaultdict(list)   # (mode, server) -> [(round, rps, p50, p99, non2xx, sockerr, reqs)]
modes = []
for mode, server, rnd, rps, p50, p99, non2xx, sockerr, reqs, other in rows:
    if mode not in modes:
        modes.append(mode)
    data[(mode, server)].append((int(rnd), float(rps), float(p50), float(p99), int(non2xx), int(sockerr), int(reqs), int(other)))
servers = ["nginx"] + ([] if nginx_only else ["authgate"])

def med(xs):
    return statistics.median(xs)

QUIET = 10  # "other CPU load" (% of a CPU) under which a run counts as undisturbed

def summary(title, keep):
    print("### " + title)
    print()
    if nginx_only:
        print("| mode | server | rounds | req/s | p50 ms | p99 ms | errors |")
        print("|---|---|---:|---:|---:|---:|---:|")
    else:
        print("| mode | server | rounds | req/s | p50 ms | p99 ms | errors | req/s authgate/nginx | p99 authgate/nginx |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for mode in modes:
        m = {}
        for s in servers:
            rs = [r for r in data[(mode, s)] if keep(r)]
            m[s] = ((len(rs), med([r[1] for r in rs]), med([r[2] for r in rs]), med([r[3] for r in rs]),
                     sum(r[4] + r[5] for r in rs)) if rs else None)
        for s in servers:
            if m[s] is None:
                line = "| %s | %s | 0 | – | – | – | – |" % (mode, s)
            else:
                n_r, rps, p50, p99, errs = m[s]
                line = "| %s | %s | %d | %.0f | %.3f | %.3f | %d |" % (mode, s, n_r, rps, p50, p99, errs)
            if not nginx_only:
                if s == "authgate" and m["authgate"] and m["nginx"]:
                    a, n = m["authgate"], m["nginx"]
                    line += " **%.2f** | **%.2f** |" % (a[1] / n[1] if n[1] else float("nan"),
                                                      a[3] / n[3] if n[3] else float("nan"))
                else:
                    line += " | |"
            print(line)
    print()

summary("Summary (median over rounds)", lambda r: True)
all_runs = [r for rs in data.values() for r in rs]
if any(r[7] >= QUIET for r in all_runs) and any(r[7] < QUIET for r in all_runs):
    summary("Summary over undisturbed rounds only (other CPU load < %d%%)" % QUIET,
            lambda r: r[7] < QUIET)
print("### Raw rounds")
print()
print("| mode | round | server | req/s | p50 ms | p99 ms | requests | non-2xx/3xx | socket errors | other CPU load |")
print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
for mode in modes:
    rounds = sorted({r[0] for s in servers for r in data[(mode, s)]})
    for rnd in rounds:
        for s in servers:
            for r in data[(mode, s)]:
                if r[0] == rnd:
                    print("| %s | %d | %s | %.0f | %.3f | %.3f | %d | %d | %d | %d%% |" % (mode, rnd, s, r[1], r[2], r[3], r[6], r[4], r[5], r[7]))
print()
busy = [(mode, s, r[0], r[7]) for (mode, s), rs in data.items() for r in rs if r[7] >= QUIET]
if busy:
    print("**Warning**: other processes used CPU during %d of %d measured runs (up to %d%% of a CPU; "
          "\"other CPU load\" above). On a 2-CPU machine they compete with the servers or wrk: "
          "those runs are not trustworthy. Re-run on a quiet machine."
          % (len(busy), sum(len(rs) for rs in data.values()), max(b[3] for b in busy)))
else:
    print("Other CPU load stayed under 10%% of a CPU in every measured run (max %d%%)."
          % max(r[7] for rs in data.values() for r in rs))
print()
PY

if ((${#MEM_LINES[@]})); then
    echo "### Resident memory with $IDLE_CONNS idle keep-alive connections (plain HTTP)"
    echo
    echo "| server | RSS before MiB | RSS with conns MiB | delta KiB | KiB/conn | RSS after close MiB | 2xx answered | closed by server while idle |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${MEM_LINES[@]}"
    echo
    if [[ -n $AG_PID_plain ]]; then
        echo "authgate RSS: plain process right after startup $(kib_to_mib "$AG_RSS_START") MiB" \
            "($AG_THREADS threads at startup); TLS process after its benchmark" \
            "$(kib_to_mib "$(rss_kib "$AG_PID_tls")") MiB."
    fi
    if ((${#MEM_NOTES[@]})); then
        echo
        printf '%s\n' "${MEM_NOTES[@]}"
    fi
    echo
fi

if [[ -s $ERRNOTES ]]; then
    echo "### Errors reported by wrk"
    echo
    cat "$ERRNOTES"
    echo
else
    echo "No non-2xx responses or socket errors in any measured run."
fi

# Server-side complaints (authgate at level=warn, nginx error logs).
for f in "$WORK"/authgate-*.log "$WORK/nginx/error.log" "$WORK/upstream/error.log"; do
    [[ -s $f ]] || continue
    echo
    echo "### Log output: ${f#"$WORK"/} ($(wc -l <"$f") lines; distinct messages, most frequent first)"
    echo
    echo '```'
    # Strip ANSI colours and the leading timestamp (tracing: ISO 8601; nginx: "YYYY/MM/DD HH:MM:SS"),
    # drop nginx's "*123" connection numbers, then count identical lines.
    sed -E -e 's/\x1b\[[0-9;]*m//g' \
        -e 's/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z? +//' \
        -e 's/^[0-9]{4}\/[0-9]{2}\/[0-9]{2} [0-9:]+ //' \
        -e 's/\*[0-9]+ /*N /' "$f" | sort | uniq -c | sort -rn | head -n 15
    echo '```'
done
