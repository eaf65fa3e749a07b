#!/usr/bin/env bash
# Runs authgate's fuzz targets one after the other, each on one core at the lowest priority,
# and prints per target the inputs executed, the time taken and whether anything crashed.
#
#   fuzz/run.sh [--runs N] [--time SECONDS] [--no-build] [TARGET...]
#
# --runs N       stop a target after N inputs (libFuzzer -runs)
# --time S       stop a target after S seconds (libFuzzer -max_total_time); with both, the
#                first reached ends it. Default: --time 60.
# --no-build     use the binaries already built
# TARGET...      only these (default: every target in fuzz/Cargo.toml)
#
# A panic, a failed assertion, an input that runs longer than TIMEOUT seconds (default 10)
# or a process above RSS_MB MiB (default 1024) is a crash: libFuzzer writes the input to
# fuzz/artifacts/TARGET/ and the script goes on with the next target, then exits 1.
# Corpora grow in fuzz/corpus/TARGET/ (only the hand-written seed-* files are in git).
# FUZZ_CPU=N pins each run to CPU N (taskset).
set -euo pipefail
cd "$(dirname "$0")"

runs=""
time=""
build=1
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --time) time="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ -z "$runs" ] && [ -z "$time" ]; then
  time=60
fi
timeout="${TIMEOUT:-10}"
rss_mb="${RSS_MB:-1024}"

all=$(sed -n 's/^name = "\([a-z_]*\)"$/\1/p' Cargo.toml | grep -v '^authgate-fuzz$' || true)
if [ ${#targets[@]} -eq 0 ]; then
  read -r -a targets <<<"$(echo $all)"
fi
for t in "${targets[@]}"; do
  if ! grep -qx "$t" <<<"$all"; then
    echo "no fuzz target named $t (have: $(echo $all))" >&2
    exit 2
  fi
done

# Release, with debug assertions (integer overflow is a crash), without a sanitizer: the
# code under test forbids unsafe (bar one module no target reaches), and the sanitizer
# would halve the inputs per second.
if [ "$build" = 1 ]; then
  one=()
  [ ${#targets[@]} -eq 1 ] && one=("${targets[0]}")
  nice -n 19 cargo +nightly fuzz build -O -a -s none "${one[@]}" >&2
fi
bin_dir="target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"

pin=()
if [ -n "${FUZZ_CPU:-}" ]; then
  pin=(taskset -c "$FUZZ_CPU")
fi

limits=(-rss_limit_mb="$rss_mb" -malloc_limit_mb="$rss_mb" -timeout="$timeout" -print_final_stats=1)
[ -n "$runs" ] && limits+=(-runs="$runs")
[ -n "$time" ] && limits+=(-max_total_time="$time")

mkdir -p artifacts logs
summary=()
failed=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log="logs/$t.log"
  start=$(date +%s)
  set +e
  nice -n 19 "${pin[@]}" "$bin_dir/$t" "${limits[@]}" \
    -artifact_prefix="artifacts/$t/" "corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  secs=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ -z "$execs" ]; then
    # A crash ends the run before the final stats: take the last status line's count.
    execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
  fi
  execs=${execs:-0}
  corpus=$(find "corpus/$t" -type f | wc -l)
  if [ "$rc" = 0 ]; then
    result="ok"
  else
    failed=1
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    kind=$(grep -o -m1 -E 'deadly signal|panicked at [^:]*:[0-9]*|ERROR: libFuzzer: [a-z-]*|out-of-memory|timeout' "$log" || true)
    result="CRASH (${kind:-exit $rc}) ${crash:-see $log}"
  fi
  line=$(printf '%-16s %12s execs %6ss %9s/s corpus %6s  %s' "$t" "$execs" "$secs" \
    "$(( execs / (secs > 0 ? secs : 1) ))" "$corpus" "$result")
  echo "$line"
  summary+=("$line")
done

echo
echo "=== fuzz summary ($(date -u +%FT%TZ); runs=${runs:-none} time=${time:-none}s timeout=${timeout}s rss=${rss_mb}MiB)"
printf '%s\n' "${summary[@]}"
exit "$failed"
