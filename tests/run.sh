#!/usr/bin/env bash
# The test command (the README's): installs what the tests need when it is missing, then runs
# `cargo test` with the arguments given, e.g. `tests/run.sh --test it redis`.
#
# On a machine with only the Rust toolchain it installs, with apt-get (as root, or through
# sudo), the Debian packages:
#   redis-server     the Redis backend's tests start real servers on free ports;
#   chromium,
#   chromium-driver  the real-browser sign-in test drives Chromium over WebDriver;
#   apache2,
#   libapache2-mod-auth-openidc
#                    the OpenID relying-party tests start Debian's Apache with
#                    mod_auth_openidc in front of a CGI page (support/apache.rs);
#   ca-certificates  cargo's own downloads over https;
#   systemd          systemd-analyze verify checks deploy/authgate.service
#                    (deploy/systemd-check.sh, run by tests/it/deploy.rs);
#   nodejs, npm      the federation tests start a real OpenID provider, panva's
#                    oidc-provider (tests/idp/), with Node.js; its npm packages are
#                    installed from tests/idp/package-lock.json (`npm ci`) when
#                    tests/idp/node_modules is missing.
# The tests need no Rust component beyond cargo and rustc. When everything is there it
# installs nothing and starts the tests at once; a test whose server is missing fails
# saying what to install, it is never skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

have() { command -v "$1" >/dev/null 2>&1; }

if ! have cargo; then
  echo "tests/run.sh: cargo is not on PATH; install Rust with rustup (https://rustup.rs)" >&2
  exit 1
fi

# The tests look the programs up the same way (support/webdriver.rs, support/redis.rs,
# support/apache.rs): CHROMIUM, CHROMEDRIVER and APACHE2 may name other binaries,
# APACHE2_MODULES another modules directory.
need=()
[ -n "${CHROMIUM:-}" ] || have chromium || have chromium-browser || need+=(chromium)
[ -n "${CHROMEDRIVER:-}" ] || have chromedriver || need+=(chromium-driver)
have redis-server || need+=(redis-server)
[ -n "${APACHE2:-}" ] || have apache2 || [ -x /usr/sbin/apache2 ] || need+=(apache2)
[ -e "${APACHE2_MODULES:-/usr/lib/apache2/modules}/mod_auth_openidc.so" ] || need+=(libapache2-mod-auth-openidc)
[ -e /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
have systemd-analyze || need+=(systemd)
have node || need+=(nodejs)
have npm || need+=(npm)

if [ ${#need[@]} -gt 0 ]; then
  echo "tests/run.sh: installing ${need[*]}" >&2
  if ! have apt-get; then
    echo "tests/run.sh: no apt-get here; install ${need[*]} (Debian's names) yourself" >&2
    exit 1
  fi
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! have sudo; then
      echo "tests/run.sh: installing ${need[*]} needs root (and there is no sudo)" >&2
      exit 1
    fi
    as_root=(sudo)
  fi
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

# support/idp.rs runs `node tests/idp/idp.mjs`, which needs the packages the lockfile pins.
if [ ! -d tests/idp/node_modules ]; then
  echo "tests/run.sh: npm ci --prefix tests/idp (the test OpenID provider's packages)" >&2
  npm ci --prefix tests/idp --no-audit --no-fund >&2
fi

exec cargo test "$@"
