#!/usr/bin/env bash
# Start a local six-node Redis Cluster (three primaries, one replica each) on loopback, for the
# Cluster tests (tests/store/*cluster*.test.ts). No persistence: every node is throw-away.
#
#   scripts/cluster-up.sh            # ports 7100-7105, state under ${TMPDIR:-/tmp}/wsguard-cluster
#   CLUSTER_PORT=7200 CLUSTER_DIR=/tmp/c scripts/cluster-up.sh
#   eval "$(scripts/cluster-up.sh | grep ^REDIS_CLUSTER_NODES=)"; export REDIS_CLUSTER_NODES
#
# Idempotent: nodes already answering are reused, and a cluster already formed is left as is.
# Prints REDIS_CLUSTER_NODES=127.0.0.1:7100,... on stdout once every node reports
# cluster_state:ok; exits non-zero (after at most ~30 s) when it cannot get there.
# Stop it with scripts/cluster-down.sh (same env).
set -euo pipefail

BASE_PORT="${CLUSTER_PORT:-7100}"
COUNT=6
DIR="${CLUSTER_DIR:-${TMPDIR:-/tmp}/wsguard-cluster}"
HOST=127.0.0.1
started_at=$(date +%s%N)

# Each node also listens on its cluster bus port, port + 10000.
if ! [[ "$BASE_PORT" =~ ^[0-9]+$ ]] || ((BASE_PORT < 1024 || BASE_PORT > 55530)); then
  echo "cluster-up: CLUSTER_PORT must be a number from 1024 to 55530, not '$BASE_PORT'" >&2
  exit 2
fi
command -v redis-server >/dev/null || { echo "cluster-up: no redis-server on PATH" >&2; exit 2; }
command -v redis-cli >/dev/null || { echo "cluster-up: no redis-cli on PATH" >&2; exit 2; }

ports=()
for ((i = 0; i < COUNT; i++)); do ports+=($((BASE_PORT + i))); done

cli() { redis-cli -h "$HOST" -p "$1" "${@:2}"; }
answers() { [ "$(cli "$1" PING 2>/dev/null)" = "PONG" ]; }

mkdir -p "$DIR"
for port in "${ports[@]}"; do
  if answers "$port"; then continue; fi
  node="$DIR/$port"
  # A node that is not running starts from nothing: a stale nodes.conf would name a cluster
  # whose other nodes may be gone.
  rm -rf "$node"
  mkdir -p "$node"
  redis-server --port "$port" --bind "$HOST" --daemonize yes \
    --dir "$node" --pidfile "$node/redis.pid" --logfile "$node/redis.log" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
    --save '' --appendonly no --protected-mode yes --repl-diskless-sync-delay 0
done

# Every node up (bounded: 100 x 0.1 s).
for port in "${ports[@]}"; do
  for ((try = 0; try < 100; try++)); do answers "$port" && break; sleep 0.1; done
  answers "$port" || { echo "cluster-up: node $port did not start (see $DIR/$port/redis.log)" >&2; exit 1; }
done

state() { cli "$1" CLUSTER INFO 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_state://p'; }
known() { cli "$1" CLUSTER INFO 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_known_nodes://p'; }

# Form the cluster unless the first node already belongs to a full one.
created=no
if [ "$(known "${ports[0]}")" != "$COUNT" ]; then
  created=yes
  addrs=()
  for port in "${ports[@]}"; do addrs+=("$HOST:$port"); done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$DIR/create-$BASE_PORT.log" 2>&1 || {
    echo "cluster-up: cluster create failed (see $DIR/create-$BASE_PORT.log)" >&2
    exit 1
  }
fi

# Every node knows all the others. Just created, gossip may still be spreading (bounded wait:
# 300 x 0.1 s); reused, a node restarted after a crash started empty and is no member: say so
# at once rather than serve a Cluster with a stranger in it.
for port in "${ports[@]}"; do
  for ((try = 0; try < 300; try++)); do
    [ "$(known "$port")" = "$COUNT" ] && break
    [ "$created" = yes ] || break
    sleep 0.1
  done
  [ "$(known "$port")" = "$COUNT" ] || {
    echo "cluster-up: node $port is not a member of the cluster; run scripts/cluster-down.sh first" >&2
    exit 1
  }
done

# cluster_state:ok on every node (bounded: 300 x 0.1 s).
for port in "${ports[@]}"; do
  for ((try = 0; try < 300; try++)); do [ "$(state "$port")" = "ok" ] && break; sleep 0.1; done
  [ "$(state "$port")" = "ok" ] || { echo "cluster-up: node $port is not cluster_state:ok" >&2; exit 1; }
done

# Every replica in sync with its primary (bounded: 300 x 0.1 s): a replica that never synced
# refuses to take over ("disconnected from master for longer than allowed").
link() { cli "$1" INFO replication 2>/dev/null | tr -d '\r' | sed -n 's/^master_link_status://p'; }
role() { cli "$1" INFO replication 2>/dev/null | tr -d '\r' | sed -n 's/^role://p'; }
for port in "${ports[@]}"; do
  [ "$(role "$port")" = "slave" ] || continue
  for ((try = 0; try < 300; try++)); do [ "$(link "$port")" = "up" ] && break; sleep 0.1; done
  [ "$(link "$port")" = "up" ] || { echo "cluster-up: replica $port is not in sync" >&2; exit 1; }
done

elapsed_ms=$(( ($(date +%s%N) - started_at) / 1000000 ))
echo "cluster-up: ${COUNT} nodes ok in ${elapsed_ms} ms (state in $DIR)" >&2
nodes=$(IFS=,; for p in "${ports[@]}"; do printf '%s\n' "$HOST:$p"; done | paste -sd, -)
echo "REDIS_CLUSTER_NODES=$nodes"
