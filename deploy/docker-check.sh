#!/usr/bin/env bash
# Builds the container image from deploy/Dockerfile and checks that it runs as it should:
# a non-root user, a HEALTHCHECK that passes, /healthz answered through the published port,
# the baked-in configuration accepted by `authgate check`, and the compose file's
# configuration too. Needs a Docker engine (not only the client); run it from anywhere:
#
#   deploy/docker-check.sh              # IMAGE=authgate:check by default
#   IMAGE=authgate:ci deploy/docker-check.sh
#
# The build is a release build (fat LTO): minutes. Everything is removed afterwards but the
# image.
set -euo pipefail
cd "$(dirname "$0")/.."

image="${IMAGE:-authgate:check}"
name="authgate-check-$$"
fail() { echo "docker-check: $*" >&2; exit 1; }

command -v docker >/dev/null 2>&1 || fail "no docker command"
docker info >/dev/null 2>&1 || fail "no Docker engine reachable (docker info fails): run this where docker can build"

echo "docker-check: building $image" >&2
docker build -f deploy/Dockerfile -t "$image" .

# The image's own settings.
user="$(docker image inspect -f '{{.Config.User}}' "$image")"
case "$user" in
  ""|0|0:*|root|root:*) fail "the image runs as root (USER '$user')" ;;
esac
healthcheck="$(docker image inspect -f '{{json .Config.Healthcheck}}' "$image")"
[ "$healthcheck" != "null" ] || fail "the image declares no HEALTHCHECK"
echo "docker-check: USER $user, HEALTHCHECK $healthcheck" >&2

# The baked-in configuration passes check inside the image.
docker run --rm "$image" check || fail "the image's own configuration fails authgate check"

# The compose file's configuration passes check inside the image, with the secrets compose
# would mount (throwaway values) and the environment it sets.
secrets="$(mktemp -d)"
cleanup() {
  docker rm -f "$name" >/dev/null 2>&1 || true
  rm -rf "$secrets"
}
trap cleanup EXIT
head -c 32 /dev/urandom | base64 > "$secrets/signing_key"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$secrets/admin_token"
chmod 0644 "$secrets"/*
docker run --rm \
  -e AUTHGATE_REDIS_URL=redis://:password@redis:6379/0 \
  -v "$PWD/deploy/gateway.redis.toml:/etc/authgate/gateway.toml:ro" \
  -v "$secrets:/run/secrets:ro" \
  "$image" check || fail "deploy/gateway.redis.toml (compose.yaml's) fails authgate check in the image"

# Run it: the process is not root, the health check turns healthy, /healthz answers.
docker run -d --name "$name" -p 127.0.0.1::8443 "$image" >/dev/null
uids="$(docker top "$name" -eo uid | tail -n +2 | tr -d ' ')"
[ -n "$uids" ] || fail "no process in the container"
for uid in $uids; do
  [ "$uid" != 0 ] || fail "a process in the container runs as root"
done
echo "docker-check: running as uid $uids" >&2

status=starting
for _ in $(seq 1 60); do
  status="$(docker inspect -f '{{.State.Health.Status}}' "$name")"
  running="$(docker inspect -f '{{.State.Running}}' "$name")"
  [ "$running" = true ] || { docker logs "$name" >&2; fail "the container stopped"; }
  [ "$status" = starting ] || break
  sleep 2
done
if [ "$status" != healthy ]; then
  docker inspect -f '{{json .State.Health}}' "$name" >&2
  docker logs "$name" >&2
  fail "the HEALTHCHECK did not pass (status $status)"
fi
docker exec "$name" /usr/local/bin/authgate healthcheck >&2 || fail "authgate healthcheck fails in the container"

port="$(docker port "$name" 8443/tcp | head -n 1 | sed 's/.*://')"
if command -v curl >/dev/null 2>&1; then
  answer="$(curl -ksS "https://127.0.0.1:$port/healthz")" || fail "GET /healthz through the published port failed"
  [ "$answer" = ok ] || fail "GET /healthz answered '$answer'"
fi
echo "docker-check: $image builds, runs as uid $uids, is healthy and answers /healthz on port $port"
