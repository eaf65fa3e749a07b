#!/usr/bin/env bash
# Checks deploy/authgate.service with `systemd-analyze verify`, which needs the unit's
# ExecStart binary to exist: a copy of the unit runs the authgate binary given (AUTHGATE_BIN,
# default target/release/authgate, else target/debug/authgate) from a temporary directory.
# Any message from systemd-analyze (an unknown or misspelt key is only a warning to it) fails
# the check. Installs Debian's `systemd` package (systemd-analyze) with apt-get when missing.
# tests/it/deploy.rs runs it with the test build's binary.
#
#   deploy/systemd-check.sh
#   AUTHGATE_BIN=/usr/local/bin/authgate deploy/systemd-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

have() { command -v "$1" >/dev/null 2>&1; }

if ! have systemd-analyze; then
  echo "systemd-check: installing systemd (systemd-analyze)" >&2
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    have sudo || { echo "systemd-check: installing systemd needs root (and there is no sudo)" >&2; exit 1; }
    as_root=(sudo)
  fi
  have apt-get || { echo "systemd-check: no apt-get here; install systemd-analyze yourself" >&2; exit 1; }
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd
fi

bin="${AUTHGATE_BIN:-}"
if [ -z "$bin" ]; then
  for candidate in target/release/authgate target/debug/authgate; do
    [ -x "$candidate" ] && { bin="$candidate"; break; }
  done
fi
[ -n "$bin" ] && [ -x "$bin" ] || { echo "systemd-check: no authgate binary: build it (cargo build --release) or set AUTHGATE_BIN" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
install -m 0755 "$bin" "$tmp/authgate"
grep -q '^ExecStart=/usr/local/bin/authgate ' deploy/authgate.service \
  || { echo "systemd-check: deploy/authgate.service has no ExecStart=/usr/local/bin/authgate line" >&2; exit 1; }
sed "s#^ExecStart=/usr/local/bin/authgate #ExecStart=$tmp/authgate #" deploy/authgate.service > "$tmp/authgate.service"

if ! out="$(systemd-analyze verify "$tmp/authgate.service" 2>&1)"; then
  echo "systemd-check: systemd-analyze verify refused deploy/authgate.service:" >&2
  echo "$out" >&2
  exit 1
fi
if [ -n "$out" ]; then
  echo "systemd-check: systemd-analyze verify warned about deploy/authgate.service:" >&2
  echo "$out" >&2
  exit 1
fi
echo "systemd-check: deploy/authgate.service passes systemd-analyze verify ($(systemd-analyze --version | head -n 1))"
