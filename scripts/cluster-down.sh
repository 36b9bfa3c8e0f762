#!/usr/bin/env bash
# Stop the local Redis Cluster started by scripts/cluster-up.sh (same CLUSTER_PORT / CLUSTER_DIR)
# and delete its nodes' state. Each node is stopped by its own pid file, never by name.
set -euo pipefail

BASE_PORT="${CLUSTER_PORT:-7100}"
COUNT=6
DIR="${CLUSTER_DIR:-${TMPDIR:-/tmp}/wsguard-cluster}"

for ((i = 0; i < COUNT; i++)); do
  port=$((BASE_PORT + i))
  pidfile="$DIR/$port/redis.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    # Bounded wait: 50 x 0.1 s, then SIGKILL.
    for ((try = 0; try < 50; try++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  # Only this cluster's node dirs: another cluster (other ports) may share CLUSTER_DIR.
  rm -rf "${DIR:?}/$port"
done
rm -f "$DIR/create-$BASE_PORT.log"
rmdir "$DIR" 2>/dev/null || true
echo "cluster-down: stopped (ports ${BASE_PORT}-$((BASE_PORT + COUNT - 1)))" >&2
