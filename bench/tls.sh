#!/usr/bin/env bash
# New TLS connections per second, authgate against nginx in the same run (issue 17 item 3):
# full handshakes and resumed ones (TLS 1.3 with tickets, TLS 1.2 with session ids), each
# connection carrying one `GET /healthz`. Both servers use the same ECDSA P-256 certificate
# and both cores; the client is `openssl s_time`, PAR processes at once, rounds interleaved
# (authgate, nginx, authgate, ...) so that a noisy neighbour hits both alike.
#
#   bench/tls.sh target/release/authgate
#   ROUNDS=3 SECONDS_RUN=10 PAR=2 bench/tls.sh target/release/authgate
#
# Needs openssl and nginx (apt-get install -y nginx). Prints one markdown table: connections
# per second of each, best of the rounds, and the ratio authgate / nginx.
set -euo pipefail
bin=$(realpath "$1")
ROUNDS=${ROUNDS:-3}
SECONDS_RUN=${SECONDS_RUN:-8}
PAR=${PAR:-2}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

ngx=$(free_port)
mkdir -p "$work/ngx/logs"
cat >"$work/ngx/nginx.conf" <<NGX
worker_processes 2; error_log $work/ngx/error.log; pid $work/ngx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  ssl_session_cache shared:SSL:10m;
  ssl_session_tickets on;
  server {
    listen 127.0.0.1:$ngx ssl;
    ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location = /healthz { return 200 "ok\n"; }
  }
}
NGX
nginx -p "$work/ngx" -c "$work/ngx/nginx.conf" -g 'daemon off;' &

gw=$(free_port)
mkdir -p "$work/gw"
cat >"$work/gw/gateway.toml" <<TOML
[server]
listen = "127.0.0.1:$gw"
public_url = "https://localhost:$gw"
data_dir = "$work/gw/data"
[server.tls]
mode = "files"
cert = "$work/cert.pem"
key = "$work/key.pem"
[admin]
listen = "off"
[log]
access = false
[[routes]]
path = "/"
upstream = "static://204"
auth = "none"
TOML
"$bin" serve --config "$work/gw/gateway.toml" >"$work/gw/log" 2>&1 &
for port in $gw $ngx; do
    for _ in $(seq 1 100); do
        curl -sk -o /dev/null "https://127.0.0.1:$port/healthz" && break
        sleep 0.2
    done
done

# Connections per second of PAR s_time clients together.
rate() { # port mode(-new|-reuse) version(-tls1_3|-tls1_2)
    local pids=() i
    for i in $(seq 1 "$PAR"); do
        openssl s_time -connect "127.0.0.1:$1" "$2" "$3" -time "$SECONDS_RUN" -www /healthz \
            >"$work/st.$i" 2>&1 &
        pids+=($!)
    done
    wait "${pids[@]}"
    # "N connections in T real seconds, ..." per client: the sum of N over the longest T.
    cat "$work"/st.* | awk '/connections in [0-9]+ real seconds/ {n += $1; if ($4 > t) t = $4}
        END {printf "%.0f", (t > 0) ? n / t : 0}'
    rm -f "$work"/st.*
}

printf '| connections | authgate / s | nginx / s | ratio |\n|---|---:|---:|---:|\n'
for kind in "TLS 1.3 full:-new:-tls1_3" "TLS 1.3 resumed (ticket):-reuse:-tls1_3" \
    "TLS 1.2 full:-new:-tls1_2" "TLS 1.2 resumed (session id):-reuse:-tls1_2"; do
    IFS=: read -r name mode version <<<"$kind"
    best_gw=0 best_ngx=0
    for _ in $(seq 1 "$ROUNDS"); do
        a=$(rate "$gw" "$mode" "$version"); [ "$a" -gt "$best_gw" ] && best_gw=$a
        b=$(rate "$ngx" "$mode" "$version"); [ "$b" -gt "$best_ngx" ] && best_ngx=$b
    done
    ratio=$(python3 -c "print(f'{$best_gw / max($best_ngx, 1):.2f}x')")
    printf '| %s | %s | %s | %s |\n' "$name" "$best_gw" "$best_ngx" "$ratio"
done
