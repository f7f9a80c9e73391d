#!/usr/bin/env bash
# Start the local services the tests and benchmarks use, each only when it is down:
#   .ci/services.sh postgres redis rabbitmq
# PostgreSQL on 127.0.0.1:5432 (trust auth for postgres), Redis on 127.0.0.1:6379 (nothing kept on disk),
# RabbitMQ on 127.0.0.1:5672 (guest/guest; installed from Debian's packages when missing).
set -uo pipefail

say() { printf '\n== %s\n' "$*"; }

postgres() {
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    say "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && return 0; sleep 1; done
  echo "PostgreSQL did not come up." >&2
  return 1
}

redis() {
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    say "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
  fi
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0; sleep 1; done
  echo "Redis did not come up." >&2
  return 1
}

rabbitmq() {
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    say "installing RabbitMQ"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
  fi
  if ! rabbitmqctl status >/dev/null 2>&1; then
    say "starting RabbitMQ"
    rabbitmq-server -detached || true
  fi
  for _ in $(seq 1 90); do rabbitmqctl status >/dev/null 2>&1 && return 0; sleep 1; done
  echo "RabbitMQ did not come up." >&2
  return 1
}

status=0
for service in "$@"; do
  "$service" || status=1
done
exit $status
