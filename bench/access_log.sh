#!/usr/bin/env bash
# bench/access_log.sh — what the access log costs: authgate (auth = "none") and nginx
# proxy_pass, each with its access log off and on (to a file), interleaved in one run.
#
# Usage:  bench/access_log.sh                 (from any directory)
#         AUTHGATE_BIN=target/release/authgate ROUNDS=5 bench/access_log.sh > result.md
#         ACCESS_TO=output AUTHGATE_BIN=old/authgate bench/access_log.sh   # a build without
#             [log] access_file: its lines go to its output (redirected to a file), at level info
#
# Results (markdown) go to stdout, progress to stderr. See bench/README.md.
set -euo pipefail

ROUNDS=${ROUNDS:-3}            # measured rounds per server
DURATION=${DURATION:-10s}      # length of each measured wrk run
WARMUP=${WARMUP:-3s}           # one warm-up run per server (0 skips)
CONNS=${CONNS:-50}             # wrk connections
NO_BUILD=${NO_BUILD:-0}        # 1: do not run cargo build (use the existing binary)
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
QUIET_WAIT=${QUIET_WAIT:-60}
ACCESS_TO=${ACCESS_TO:-file}   # file: [log] access_file; output: the process's own output

ME=$(basename "$0")
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer (got '$ROUNDS')"
bench_init "$0"
ensure_tools
setup_pinning
build_authgate
make_workdir

read -r UP_PORT NGX_OFF NGX_ON AG_OFF AG_ON < <(free_ports 5)
write_upstream_conf "$WORK/upstream" "$UP_PORT"
mkdir -p "$WORK/nginx/tmp"
{
    nginx_common "$WORK/nginx"
    cat <<EOF
    upstream backend { server 127.0.0.1:$UP_PORT; keepalive 64; }
    server {
        listen 127.0.0.1:$NGX_OFF;
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
    server {
        listen 127.0.0.1:$NGX_ON;
        access_log $WORK/nginx/access.log;
        location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
EOF
} >"$WORK/nginx/nginx.conf"

start_nginx upstream "$WORK/upstream"
UP_PID=$LAST_PID
wait_up "upstream nginx" "http://127.0.0.1:$UP_PORT/" "$UP_PID" "$WORK/upstream/stderr.log"
start_nginx nginx "$WORK/nginx"
NGX_PID=$LAST_PID
wait_up "nginx proxy" "http://127.0.0.1:$NGX_OFF/" "$NGX_PID" "$WORK/nginx/stderr.log"

start_authgate() { # NAME PORT ACCESS_LINES
    mkdir -p "$WORK/data-$1"
    cat >"$WORK/$1.toml" <<EOF
[server]
listen = "127.0.0.1:$2"
public_url = "http://127.0.0.1:$2"
data_dir = "$WORK/data-$1"
[server.tls]
mode = "off"
[log]
$3
[admin]
listen = "off"
[[routes]]
path = "/"
upstream = "http://127.0.0.1:$UP_PORT"
auth = "none"
EOF
    start_bg "$1" "$WORK/$1.log" "$AUTHGATE_BIN" serve --config "$WORK/$1.toml"
    wait_up "$1" "http://127.0.0.1:$2/" "$LAST_PID" "$WORK/$1.log"
}
start_authgate authgate-off "$AG_OFF" 'access = false
level = "warn"'
AG_OFF_PID=$LAST_PID
if [[ $ACCESS_TO == output ]]; then
    ACCESS_FILE="$WORK/authgate-on.log"
    start_authgate authgate-on "$AG_ON" 'access = true
level = "info"'
else
    ACCESS_FILE="$WORK/authgate-access.log"
    start_authgate authgate-on "$AG_ON" "access = true
level = \"warn\"
access_file = \"$ACCESS_FILE\""
fi
AG_ON_PID=$LAST_PID

check_servers() {
    check_alive "upstream nginx" "$UP_PID" "$WORK/upstream/error.log"
    check_alive "nginx proxy" "$NGX_PID" "$WORK/nginx/error.log"
    check_alive "authgate (log off)" "$AG_OFF_PID" "$WORK/authgate-off.log"
    check_alive "authgate (log on)" "$AG_ON_PID" "$WORK/authgate-on.log"
}

declare -A URL=(
    [nginx-off]="http://127.0.0.1:$NGX_OFF/" [nginx-on]="http://127.0.0.1:$NGX_ON/"
    [authgate-off]="http://127.0.0.1:$AG_OFF/" [authgate-on]="http://127.0.0.1:$AG_ON/"
)
SERVERS=(nginx-off nginx-on authgate-off authgate-on)
RESULTS="$WORK/results.tsv"
ERRNOTES="$WORK/errors.txt"
: >"$RESULTS"
: >"$ERRNOTES"
if [[ $WARMUP != 0 ]]; then
    for s in "${SERVERS[@]}"; do run_wrk "$s warm-up" "${URL[$s]}" "$WARMUP" "$WORK/warmup-$s.txt"; done
fi
for ((r = 1; r <= ROUNDS; r++)); do
    for s in "${SERVERS[@]}"; do bench_one plain "$s" "$r" "${URL[$s]}"; done
done

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
med() { awk -F'\t' -v s="$1" -v c="$2" '$2 == s {print $c}' "$RESULTS" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }

echo "# access log cost: authgate vs nginx, logs off and on"
echo
echo "$START_DATE; $("$AUTHGATE_BIN" --version 2>/dev/null || echo "$AUTHGATE_BIN"); $(tool_versions); $ROUNDS rounds x $DURATION, $CONNS connections, servers on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU"
echo
echo "| server | req/s (median) | p50 ms | p99 ms |"
echo "|---|---:|---:|---:|"
for s in "${SERVERS[@]}"; do
    printf '| %s | %s | %s | %s |\n' "$s" "$(med "$s" 4)" "$(med "$s" 5)" "$(med "$s" 6)"
done
echo
ag_off=$(med authgate-off 4) ag_on=$(med authgate-on 4) ng_off=$(med nginx-off 4) ng_on=$(med nginx-on 4)
echo "| ratio | value |"
echo "|---|---:|"
echo "| authgate logged / unlogged | $(ratio "$ag_on" "$ag_off") |"
echo "| nginx logged / unlogged | $(ratio "$ng_on" "$ng_off") |"
echo "| authgate / nginx, both logged | $(ratio "$ag_on" "$ng_on") |"
echo "| authgate / nginx, both unlogged | $(ratio "$ag_off" "$ng_off") |"
echo
# Every request has its line (authgate writes within 200 ms; wait for it).
sleep 1
total=$(awk -F'\t' '$2 == "authgate-on" {s += $9} END {print s + 0}' "$RESULTS")
echo "authgate access lines written: $(grep -c 'status' "$ACCESS_FILE") (measured requests: $total, plus warm-up and start-up checks);" \
    "nginx: $(wc -l <"$WORK/nginx/access.log")"
echo
echo "Raw rounds (group, server, round, req/s, p50, p99, non-2xx, socket errors, requests, other CPU %):"
echo
sed 's/^/    /' "$RESULTS"
[[ -s $ERRNOTES ]] && { echo; cat "$ERRNOTES"; }
exit 0
