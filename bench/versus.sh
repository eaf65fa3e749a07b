#!/usr/bin/env bash
# bench/versus.sh — two authgate builds side by side, the same load in the same run: requests/s
# of the none and bearer routes of each, rounds interleaved (old, new, new, old, ...), so that
# a regression shows as a ratio rather than as two numbers from different hours of a noisy
# machine. bench/instructions.sh counts the instructions of the same comparison.
#
# Usage:  bench/versus.sh OLD_BIN NEW_BIN
#         ROUNDS=7 DURATION=10s bench/versus.sh /tmp/authgate-old target/release/authgate
#
# The markdown table goes to stdout, progress to stderr. Servers on SERVER_CPU, wrk on
# CLIENT_CPU (bench/lib.sh). The configuration uses only keys both builds know.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-50}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
QUIET_WAIT=${QUIET_WAIT:-30}

ME=$(basename "$0")
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
(($# == 2)) || die "usage: bench/versus.sh OLD_BIN NEW_BIN"
OLD_BIN=$(realpath "$1") NEW_BIN=$(realpath "$2")
[[ -x $OLD_BIN && -x $NEW_BIN ]] || die "both binaries must exist and be executable"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer (got '$ROUNDS')"
bench_init "$0"
ensure_tools
setup_pinning
make_workdir

read -r UP_PORT OLD_PORT NEW_PORT < <(free_ports 3)
write_upstream_conf "$WORK/upstream" "$UP_PORT"
start_nginx upstream "$WORK/upstream"
UP_PID=$LAST_PID
wait_up "upstream nginx" "http://127.0.0.1:$UP_PORT/" "$UP_PID" "$WORK/upstream/stderr.log"

CLIENT_SECRET=$(openssl rand -hex 32)
CLIENT_SECRET_SHA=$(printf '%s' "$CLIENT_SECRET" | openssl dgst -sha256 -r | awk '{print $1}')
start_gateway() { # NAME BIN PORT
    mkdir -p "$WORK/data-$1"
    cat >"$WORK/$1.toml" <<EOF
[server]
listen = "127.0.0.1:$3"
public_url = "http://127.0.0.1:$3"
data_dir = "$WORK/data-$1"
[server.tls]
mode = "off"
[log]
access = false
level = "warn"
[admin]
listen = "off"
[tokens]
access_ttl = "1h"
[scopes]
"api:read" = "Read the benchmark API"
[[clients]]
id = "bench-client"
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
path = "/"
upstream = "http://127.0.0.1:$UP_PORT"
auth = "none"
EOF
    start_bg "$1" "$WORK/$1.log" "$2" serve --config "$WORK/$1.toml"
    wait_up "$1" "http://127.0.0.1:$3/" "$LAST_PID" "$WORK/$1.log"
}
token_of() { # PORT
    curl -sS --max-time 10 -u "bench-client:$CLIENT_SECRET" -d grant_type=client_credentials \
        "http://127.0.0.1:$1/oauth2/token" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}
start_gateway old "$OLD_BIN" "$OLD_PORT"
OLD_PID=$LAST_PID
start_gateway new "$NEW_BIN" "$NEW_PORT"
NEW_PID=$LAST_PID
declare -A PORT=([old]=$OLD_PORT [new]=$NEW_PORT) TOKEN=()
for g in old new; do
    TOKEN[$g]=$(token_of "${PORT[$g]}") || die "no access token from the $g gateway"
    [[ $(curl -s -H "Authorization: Bearer ${TOKEN[$g]}" "http://127.0.0.1:${PORT[$g]}/b/") == ok ]] \
        || die "the $g gateway's bearer route does not answer the upstream's ok"
done

check_servers() {
    check_alive "upstream nginx" "$UP_PID" "$WORK/upstream/error.log"
    check_alive "authgate (old)" "$OLD_PID" "$WORK/old.log"
    check_alive "authgate (new)" "$NEW_PID" "$WORK/new.log"
}
RESULTS="$WORK/results.tsv"
ERRNOTES="$WORK/errors.txt"
: >"$RESULTS"
: >"$ERRNOTES"
load() { # ROUTE GATEWAY ROUND|warmup
    local url="http://127.0.0.1:${PORT[$2]}/" hdr=()
    if [[ $1 == bearer ]]; then url+="b/" hdr=(-H "Authorization: Bearer ${TOKEN[$2]}"); fi
    if [[ $3 == warmup ]]; then
        run_wrk "$2 warm-up" "$url" "$WARMUP" "$WORK/warmup.txt" "${hdr[@]}"
    else
        bench_one "$1" "$2" "$3" "$url" "${hdr[@]}"
    fi
}
for route in none bearer; do
    for g in old new; do load "$route" "$g" warmup; done
done
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then order=(old new); else order=(new old); fi
    for route in none bearer; do
        for g in "${order[@]}"; do load "$route" "$g" "$r"; done
    done
done

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
med() { awk -F'\t' -v g="$1" -v s="$2" -v c="$3" '$1 == g && $2 == s {print $c}' "$RESULTS" | median; }
echo "# authgate, two builds in one run"
echo
echo "$START_DATE; old: $("$OLD_BIN" --version 2>/dev/null); new: $("$NEW_BIN" --version 2>/dev/null);" \
    "$ROUNDS rounds x $DURATION, interleaved, wrk $CONNS connections; servers on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU"
echo
echo "| route | old req/s | new req/s | new ÷ old | per round | p99 old / new (ms) |"
echo "|---|---:|---:|---:|---:|---:|"
for route in none bearer; do
    o=$(med "$route" old 4) n=$(med "$route" new 4)
    per=$(awk -F'\t' -v g="$route" '$1 == g {v[$2, $3] = $4; r[$3] = 1}
        END {for (k in r) { x = v["new", k] / v["old", k]; if (lo == "" || x < lo) lo = x; if (hi == "" || x > hi) hi = x }
            printf "%.3f–%.3f", lo, hi}' "$RESULTS")
    printf '| %s | %.0f | %.0f | %.3f | %s | %s / %s |\n' "$route" "$o" "$n" \
        "$(awk -v a="$n" -v b="$o" 'BEGIN {print a / b}')" "$per" "$(med "$route" old 6)" "$(med "$route" new 6)"
done
echo
echo "Raw runs (route, build, round, req/s, p50 ms, p99 ms, non-2xx, socket errors, requests, other CPU %):"
echo
sed 's/^/    /' "$RESULTS"
[[ -s $ERRNOTES ]] && { echo; cat "$ERRNOTES"; }
exit 0
