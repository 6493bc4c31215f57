#!/usr/bin/env bash
# The demo: the whole fleet scanning the emulator's demo subscription.
# Starts RabbitMQ and Redis if needed, builds the binaries, starts the Azure emulator with its
# demo scenario, the scheduler and two workers, creates the demo connection through the CLI,
# waits for its first scan and prints the results; then stops everything it started and removes
# its queues and keys.
set -euo pipefail
cd "$(dirname "$0")/.."

tests/services.sh
echo "==> building"
cargo build --locked --bins -q

# The demo subscription's service principal, as stated in tests/emulator/scenarios/demo.json
# (a test keeps these equal to the scenario).
DEMO_TENANT="8f0e2c3a-5b6d-4e7f-9a0b-1c2d3e4f5a6b"
DEMO_CLIENT="3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f"
DEMO_SUBSCRIPTION="6a8b0c1d-2e3f-4a5b-8c9d-0e1f2a3b4c5d"
export DEMO_CLIENT_SECRET="Demo~Secret.9Qx_rT3vLm8KpZ2wYb7N"

bin=target/debug
run_dir=$(mktemp -d -t fleet-demo.XXXXXX)
run_id=demo$(date +%s)$RANDOM
pids=()

cleanup() {
  echo "==> stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for q in scan.jobs.ondemand scan.jobs.scheduled scan.results scan.rescan; do
    for name in "$run_id.$q" "$run_id.$q.dead"; do
      rabbitmqctl -q delete_queue "$name" >/dev/null 2>&1 || true
    done
  done
  redis-cli -h 127.0.0.1 --scan --pattern "$run_id:*" | xargs -r redis-cli -h 127.0.0.1 del >/dev/null
  echo "logs were in $run_dir"
}
trap cleanup EXIT

wait_for() { # file pattern
  for _ in $(seq 1 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for $2 in $1" >&2; cat "$1" >&2; return 1
}

echo "==> starting the Azure emulator (demo scenario)"
"$bin/azure-emulator" --scenario tests/emulator/scenarios/demo.json --ca-out "$run_dir/ca.pem" \
  >"$run_dir/emulator.out" 2>"$run_dir/emulator.log" &
pids+=($!)
wait_for "$run_dir/emulator.out" base_url
emulator=$(sed -n 's/.*"base_url":"\([^"]*\)".*/\1/p' "$run_dir/emulator.out")

export FLEET_QUEUE_PREFIX="$run_id."
export FLEET_KEY_PREFIX="$run_id:"
export FLEET_SECRET_KEYS="demo:$(head -c 32 /dev/urandom | base64)"
export FLEET_RESULT_KEYS="demo:$(head -c 32 /dev/urandom | base64)"
# The emulator is a cloud the operator registers (on loopback, which it must allow explicitly);
# connections name it, they never carry endpoints.
export FLEET_CLOUDS="{\"emulator\":{\"authority_host\":\"$emulator\",\"resource_manager\":\"$emulator\",\"graph\":\"$emulator\",\"arm_audience\":\"https://management.azure.com/\",\"throttle_model\":\"token_bucket\",\"allow_private_addresses\":true}}"
export FLEET_OPERATOR_TOKEN="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
export FLEET_API_TOKEN="$FLEET_OPERATOR_TOKEN"
export FLEET_EXTRA_CA_FILE="$run_dir/ca.pem"
export FLEET_LOG_FORMAT=json
export FLEET_API_LISTEN=127.0.0.1:0

echo "==> starting the scheduler and two workers"
"$bin/scheduler" serve >"$run_dir/scheduler.log" 2>&1 &
pids+=($!)
for i in 1 2; do
  FLEET_WORKER_NAME="demo-worker-$i" FLEET_METRICS_LISTEN=127.0.0.1:0 \
    "$bin/worker" >"$run_dir/worker-$i.log" 2>&1 &
  pids+=($!)
done
wait_for "$run_dir/scheduler.log" '"HTTP API listening"'
port=$(sed -n 's/.*"HTTP API listening","addr":"127.0.0.1:\([0-9]*\)".*/\1/p' "$run_dir/scheduler.log" | head -1)
export FLEET_API_URL="http://127.0.0.1:$port"

echo "==> creating the demo connection (regions eastus, westeurope) and waiting for its first scan"
started=$(date +%s.%N)
"$bin/scheduler" connections add \
  --organization contoso --name "Contoso Production" --credential-name ciphrix-integration \
  --tenant-id "$DEMO_TENANT" --client-id "$DEMO_CLIENT" --subscription-id "$DEMO_SUBSCRIPTION" \
  --client-secret-env DEMO_CLIENT_SECRET --regions eastus,westeurope \
  --cloud-json '{"kind":"registered","name":"emulator"}' \
  --wait --timeout 120 | tee "$run_dir/results.txt"
finished=$(date +%s.%N)
id=$(sed -n 's/^connection \([0-9a-f-]*\) created$/\1/p' "$run_dir/results.txt")
echo
"$bin/scheduler" connections show "$id"
echo
awk -v a="$started" -v b="$finished" 'BEGIN { printf "first scan: %.1f s from connection created to results stored\n", b - a }'
curl -s "$emulator/_emulator/requests" | sed -n 's/.*"total":\([0-9]*\).*/emulator requests (tokens + ARM): \1/p' || true
