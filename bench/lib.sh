# shellcheck shell=bash disable=SC2034 # globals set here are read by the sourcing scripts
# bench/lib.sh — helpers shared by bench/proxy.sh and bench/auth.sh. Sourced, not run.
#
# The sourcing script runs under `set -euo pipefail`, sets ME (its name, for messages),
# and defines check_servers (dies when one of its servers has gone away; called around
# every measured run). The helpers read and write these globals:
#
#   REPO BENCH       repository root and bench/ (set by bench_init, which also cd's to REPO)
#   NGINX_BIN        nginx, found by ensure_tools
#   NCPU PIN_SERVER PIN_CLIENT   from setup_pinning (SERVER_CPU / CLIENT_CPU)
#   AUTHGATE_BIN     from build_authgate (NO_BUILD, AUTHGATE_BIN)
#   WORK PIDS        from make_workdir: the temporary directory and every PID started
#   CONNS QUIET_WAIT RESULTS ERRNOTES   used by bench_one
#   LAST_PID         set by start_bg
#   PRE_RUN POST_RUN optional commands bench_one runs right before / after wrk (inside the
#                    window whose CPU use is accounted)
#   LOADGEN OPEN_RATE   bench_one's load: `wrk` (closed loop, the default) or `open`
#                    (bench/openloop.rs at OPEN_RATE requests/s, OPENLOOP_BIN from build_openloop)

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf '%s: warning: %s\n' "$ME" "$*" >&2; }
die() { printf '%s: error: %s\n' "$ME" "$*" >&2; exit 1; }

# bench_init SCRIPT_PATH: REPO, BENCH, START_DATE; cd to the repository root.
bench_init() {
    START_DATE=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
    REPO=$(cd "$(dirname "$1")/.." && pwd -P)
    BENCH="$REPO/bench"
    cd "$REPO" || exit 1
    export PATH="$PATH:/usr/sbin:/sbin"
}

# ------------------------------------------------------------- tooling ----
# Installs nginx, wrk, openssl, taskset (util-linux), curl and python3 with apt-get when
# any of them is missing (needs root or sudo). Sets NGINX_BIN.
ensure_tools() {
    local tool missing=() pkgs SUDO=()
    for tool in nginx wrk openssl taskset curl python3; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    if ((${#missing[@]})); then
        log "installing missing tools: ${missing[*]}"
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
}

# CPU pinning: servers on SERVER_CPU, load generator on CLIENT_CPU.
setup_pinning() {
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
}

# ----------------------------------------------------------- the build ----
# Sets AUTHGATE_BIN; runs `cargo build --release` unless NO_BUILD=1 or AUTHGATE_BIN is given.
build_authgate() {
    local blog="${TMPDIR:-/tmp}/authgate-bench-build.$$.log"
    if [[ -n ${AUTHGATE_BIN:-} ]]; then
        NO_BUILD=1   # an explicit binary is used as is
    else
        AUTHGATE_BIN="$REPO/target/release/authgate"
    fi
    if [[ $NO_BUILD != 1 ]]; then
        command -v cargo >/dev/null 2>&1 || die "cargo not found (install Rust, or NO_BUILD=1 with a built target/release/authgate)"
        log "cargo build --release"
        if ! cargo build --release --bin authgate >"$blog" 2>&1; then
            tail -n 40 "$blog" >&2
            rm -f "$blog"
            die "cargo build --release failed (last 40 lines above)"
        fi
        rm -f "$blog"
    fi
    [[ -x $AUTHGATE_BIN ]] || die "$AUTHGATE_BIN not found (build it, or unset NO_BUILD)"
}

# Sets OPENLOOP_BIN, the open-loop load generator (bench/openloop.rs): `cargo bench --no-run`
# (the bench profile, i.e. release) unless NO_BUILD=1, when the newest one already built in
# target/release/deps is used. OPENLOOP_BIN set by the caller is used as is.
build_openloop() {
    local blog="${TMPDIR:-/tmp}/authgate-bench-openloop.$$.log"
    [[ -z ${OPENLOOP_BIN:-} ]] || { [[ -x $OPENLOOP_BIN ]] || die "OPENLOOP_BIN=$OPENLOOP_BIN is not executable"; return 0; }
    if [[ $NO_BUILD != 1 ]]; then
        command -v cargo >/dev/null 2>&1 || die "cargo not found (or NO_BUILD=1 with a built generator, or OPENLOOP_BIN)"
        log "cargo bench --bench openloop --no-run"
        if ! cargo bench --bench openloop --no-run >"$blog" 2>&1; then
            tail -n 40 "$blog" >&2
            rm -f "$blog"
            die "building bench/openloop.rs failed (last 40 lines above)"
        fi
        rm -f "$blog"
    fi
    local f
    OPENLOOP_BIN=''
    for f in "$REPO"/target/release/deps/openloop-*; do   # the newest executable one
        [[ -x $f && ! -d $f && $f != *.d ]] || continue
        [[ -n $OPENLOOP_BIN && ! $f -nt $OPENLOOP_BIN ]] || OPENLOOP_BIN=$f
    done
    [[ -n $OPENLOOP_BIN && -x $OPENLOOP_BIN ]] \
        || die "no built bench/openloop.rs in target/release/deps (unset NO_BUILD, or set OPENLOOP_BIN)"
}

# "abc1234 (+ uncommitted changes), release build" for the report header.
authgate_desc() {
    local rev
    if rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null); then
        echo "$rev$(git -C "$REPO" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes'), release build"
    else
        echo "no commit yet (working tree), release build"
    fi
}

# "nginx/1.22.1; wrk 4.1.0; OpenSSL 3.0.x" for the report header.
tool_versions() {
    echo "$("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //'); $(wrk -v 2>&1 | head -n1 | awk '{print "wrk " $2}'); $(openssl version | awk '{print $1, $2}')"
}

# ------------------------------------------------- work dir and cleanup ----
# make_workdir: WORK (a mktemp -d directory), PIDS, and the cleanup trap.
make_workdir() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/authgate-bench.XXXXXX")
    chmod 0755 "$WORK"   # nginx workers may run as 'nobody' when started as root
    PIDS=()              # every process we start, in start order
    trap cleanup EXIT INT TERM
}

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
    if [[ -n ${WORK:-} && -d $WORK ]]; then
        if [[ ${KEEP_WORK:-0} == 1 ]]; then
            log "work dir kept: $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$rc"
}

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

# free_ports N: N distinct free loopback ports on one line (bound all at once, then released).
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
}

# -------------------------------------------------------- nginx configs ----
# Common head of every nginx config. keepalive_requests is raised everywhere:
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

# write_upstream_conf DIR PORT: the upstream, `return 200 "ok\n"` for every path.
write_upstream_conf() {
    mkdir -p "$1/tmp"
    {
        nginx_common "$1"
        cat <<EOF
    server {
        listen 127.0.0.1:$2;
        location / { return 200 "ok\n"; }
    }
}
EOF
    } >"$1/nginx.conf"
}

# write_proxy_conf DIR PORT UP_PORT [TLS_PORT CERT KEY]: nginx as proxy_pass to the
# upstream with upstream keep-alive; plus a TLS server when TLS_PORT is given.
write_proxy_conf() {
    local dir=$1 port=$2 up=$3 tls_port=${4:-} cert=${5:-} key=${6:-}
    mkdir -p "$dir/tmp"
    {
        nginx_common "$dir"
        cat <<EOF
    upstream backend {
        server 127.0.0.1:$up;
        keepalive 64;
        keepalive_requests 1000000;
    }
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    server {
        listen 127.0.0.1:$port;
        location / { proxy_pass http://backend; }
    }
EOF
        if [[ -n $tls_port ]]; then
            cat <<EOF
    server {
        listen 127.0.0.1:$tls_port ssl;
        ssl_certificate $cert;
        ssl_certificate_key $key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { proxy_pass http://backend; }
    }
EOF
        fi
        echo "}"
    } >"$dir/nginx.conf"
}

# start_nginx NAME DIR: `nginx -t` the config in DIR, then run it (daemon off, pinned).
# Sets LAST_PID.
start_nginx() {
    local name=$1 dir=$2
    "$NGINX_BIN" -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" \
        -g 'daemon off;' >"$dir/test.log" 2>&1 \
        || { cat "$dir/test.log" >&2; die "nginx -t failed for the $name config"; }
    start_bg "$name" "$dir/stderr.log" \
        "$NGINX_BIN" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;'
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
kib_to_mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

# ------------------------------------------------------------ measuring ----
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

# run_wrk LABEL URL DURATION OUTFILE [WRK_OPTION...]
#   wrk -t1 -c$CONNS -dDURATION --latency [WRK_OPTION...] URL, pinned to CLIENT_CPU.
run_wrk() {
    local label=$1 url=$2 dur=$3 out=$4
    shift 4
    # In the background + wait, so that a SIGTERM reaches the trap at once
    # (bash runs traps only after a foreground child exits).
    "${PIN_CLIENT[@]}" wrk -t1 -c"$CONNS" -d"$dur" --latency "$@" "$url" >"$out" 2>&1 &
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

# dur_seconds 10s|2m|1h|30 -> seconds
dur_seconds() {
    local d=$1
    case $d in
    *h) echo $((${d%h} * 3600)) ;;
    *m) echo $((${d%m} * 60)) ;;
    *s) echo "${d%s}" ;;
    *) echo "$d" ;;
    esac
}

# run_openloop LABEL URL DURATION OUTFILE: bench/openloop.rs at OPEN_RATE requests/s over
# CONNS connections, pinned to CLIENT_CPU (like run_wrk).
run_openloop() {
    local label=$1 url=$2 dur=$3 out=$4
    "${PIN_CLIENT[@]}" "$OPENLOOP_BIN" "$url" "$OPEN_RATE" "$(dur_seconds "$dur")" --conns "$CONNS" >"$out" 2>&1 &
    local opid=$! orc=0
    PIDS+=("$opid")
    wait "$opid" || orc=$?
    forget_pid "$opid"
    if ((orc != 0)); then
        cat "$out" >&2
        check_servers
        die "the open-loop generator failed with status $orc ($label, $url)"
    fi
}

# parse_openloop OUTFILE -> "rps p50_ms p99_ms non2xx errors requests p90_ms p999_ms max_ms
#                            target_rps pacer_p99_ms" (the first six as parse_wrk's)
parse_openloop() {
    awk '
    $1 == "openloop" {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        found = 1
    }
    END {
        if (!found) exit 1
        printf "%s %s %s %d %d %d %s %s %s %s %s\n", v["rps"], v["p50_ms"], v["p99_ms"], v["non2xx"],
            v["errors"], v["completed"], v["p90_ms"], v["p999_ms"], v["max_ms"], v["target_rps"], v["pacer_p99_ms"]
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

# bench_one GROUP SERVER ROUND URL [WRK_OPTION...]
# One measured run: waits for quiet CPUs, runs PRE_RUN (if set), the load for DURATION (wrk,
# or the open-loop generator when LOADGEN=open), POST_RUN (if set), and appends a line to
# RESULTS:
#   group server round rps p50_ms p99_ms non2xx socket_errors requests other_cpu_pct
# and, for the open-loop generator, p90_ms p999_ms max_ms target_rps pacer_p99_ms.
# Runs with non-2xx/3xx responses or socket errors are also noted in ERRNOTES.
PRE_RUN=${PRE_RUN:-} POST_RUN=${POST_RUN:-} LOADGEN=wrk
bench_one() {
    local group=$1 server=$2 round=$3 url=$4 out parsed m0 o0 t0 m1 o1 t1 other extra=''
    shift 4
    out="$WORK/$LOADGEN-$group-$server-$round.txt"
    wait_quiet
    check_servers
    m0=$(machine_jiffies) o0=$(own_jiffies) t0=$EPOCHREALTIME
    [[ -z $PRE_RUN ]] || $PRE_RUN "$group" "$server" "$round"
    if [[ $LOADGEN == open ]]; then
        run_openloop "$server $group round $round" "$url" "$DURATION" "$out"
    else
        run_wrk "$server $group round $round" "$url" "$DURATION" "$out" "$@"
    fi
    [[ -z $POST_RUN ]] || $POST_RUN "$group" "$server" "$round"
    m1=$(machine_jiffies) o1=$(own_jiffies) t1=$EPOCHREALTIME
    # other work, in % of one CPU, averaged over the run
    other=$(awk -v m="$((m1 - m0))" -v o="$((o1 - o0))" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" \
        'BEGIN { x = (m - o) / ((t1 - t0) * hz) * 100; printf "%.0f", (x < 0 ? 0 : x) }')
    if [[ $LOADGEN == open ]]; then
        parsed=$(parse_openloop "$out") || { cat "$out" >&2; die "could not parse the generator's output ($server $group round $round)"; }
    else
        parsed=$(parse_wrk "$out") || { cat "$out" >&2; die "could not parse wrk output ($server $group round $round)"; }
    fi
    read -r rps p50 p99 non2xx sockerr reqs extra <<<"$parsed"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s%s\n' \
        "$group" "$server" "$round" "$rps" "$p50" "$p99" "$non2xx" "$sockerr" "$reqs" "$other" \
        "${extra:+$'\t'${extra// /$'\t'}}" >>"$RESULTS"
    check_servers
    log "  round $round $(printf '%-8s' "$server") ${rps} req/s  p50 ${p50} ms  p99 ${p99} ms  (other CPU load ${other}%)$(
        ((non2xx + sockerr)) && printf '  !! non-2xx %s, socket errors %s' "$non2xx" "$sockerr")"
    if ((non2xx + sockerr)); then
        {
            # shellcheck disable=SC2016 # the backticks are markdown
            printf -- '- %s %s round %s: non-2xx/3xx responses %s, socket errors %s (of %s requests): `%s`\n' \
                "$group" "$server" "$round" "$non2xx" "$sockerr" "$reqs" \
                "$(grep -E 'Socket errors|Non-2xx|^openloop' "$out" | tr -s ' ' | paste -sd ';' -)"
        } >>"$ERRNOTES"
    fi
}

# ------------------------------------------------------------- report ----
# Server-side complaints (authgate at level=warn, nginx error logs), as markdown sections.
print_server_logs() {
    local f
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
}
