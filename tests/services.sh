#!/usr/bin/env bash
# Makes sure RabbitMQ (127.0.0.1:5672, guest/guest) and Redis (127.0.0.1:6379) are installed
# and running: installs them with apt-get when missing, starts them when stopped. Idempotent.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=""
install() {
  if [ -z "$apt_updated" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v redis-server >/dev/null 2>&1 || install redis-server
command -v rabbitmq-server >/dev/null 2>&1 || install rabbitmq-server

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting Redis" >&2
  redis-server --daemonize yes --port 6379 --save "" --appendonly no >/dev/null
fi

if ! as_root rabbitmqctl -q status >/dev/null 2>&1; then
  echo "starting RabbitMQ" >&2
  as_root rabbitmq-server -detached
fi
# Waits for the node (and, after a stop_app, for the app) to be up.
as_root timeout 120 rabbitmqctl -q await_startup >/dev/null 2>&1 || {
  as_root rabbitmqctl -q start_app >/dev/null 2>&1 || true
  as_root timeout 120 rabbitmqctl -q await_startup
}

for _ in $(seq 1 100); do
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null
