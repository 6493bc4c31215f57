#!/usr/bin/env bash
# Runs every test of the workspace against real RabbitMQ and Redis (started or installed when
# needed): unit, integration and end-to-end tests first, in parallel; then the disruptive tests
# (they restart the broker) one at a time, alone.
set -euo pipefail
cd "$(dirname "$0")/.."
tests/services.sh
cargo test --workspace --locked
cargo test --workspace --locked -- --ignored --test-threads=1
