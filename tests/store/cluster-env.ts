/**
 * Where the Redis Cluster tests find a Cluster, and how they say so when there is none. With
 * `REDIS_CLUSTER_NODES` set (`127.0.0.1:7100,127.0.0.1:7101,...`, as `scripts/cluster-up.sh`
 * prints it) the suites must run: a Cluster that does not answer fails them. Unset, they probe the
 * default nodes of `scripts/cluster-up.sh`; when those do not answer with `cluster_state:ok`, each
 * Cluster suite is skipped with the reason in its title and a plain line, never silently.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster, type ClusterOptions } from 'ioredis';
import { REDIS_CLIENT_OPTIONS } from '../../src/store/redis-client.ts';

/** One node's address. */
export interface ClusterNode {
  readonly host: string;
  readonly port: number;
}

/** The default nodes of `scripts/cluster-up.sh`. */
const DEFAULT_NODES = '127.0.0.1:7100,127.0.0.1:7101,127.0.0.1:7102';

/** The Cluster's seed nodes, from `REDIS_CLUSTER_NODES` or the script's defaults. */
export const CLUSTER_NODES: readonly ClusterNode[] = parseNodes(
  process.env['REDIS_CLUSTER_NODES'] ?? DEFAULT_NODES,
);

/** Parse `host:port,host:port`; throws on an entry without a port, so a typo is not a skip. */
export function parseNodes(list: string): ClusterNode[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((entry) => {
      const at = entry.lastIndexOf(':');
      const port = Number(entry.slice(at + 1));
      if (at <= 0 || !Number.isInteger(port)) {
        throw new Error(`REDIS_CLUSTER_NODES: "${entry}" is not host:port`);
      }
      return { host: entry.slice(0, at).replace(/^\[|\]$/g, ''), port };
    });
}

/**
 * The `cluster_state` a node reports (`ok`, `fail`), or `undefined` when it does not answer
 * within `timeoutMs`, or answers as a Redis without cluster mode (an error reply).
 */
export function clusterState(node: ClusterNode, timeoutMs = 1000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect(node.port, node.host);
    let text = '';
    const done = (state: string | undefined) => {
      socket.destroy();
      resolve(state);
    };
    socket.setTimeout(timeoutMs, () => done(undefined));
    socket.on('error', () => done(undefined));
    socket.on('connect', () => socket.write('CLUSTER INFO\r\n'));
    socket.on('data', (d) => {
      text += String(d);
      if (text.startsWith('-')) return done(undefined);
      const state = /cluster_state:(\w+)/.exec(text);
      if (state) done(state[1]);
    });
  });
}

/**
 * Why the Cluster suites cannot run here, or `undefined` when they can (or must:
 * `REDIS_CLUSTER_NODES` set).
 */
export async function clusterSkipReason(): Promise<string | undefined> {
  if (process.env['REDIS_CLUSTER_NODES']) return undefined;
  const first = CLUSTER_NODES[0];
  if (first && (await clusterState(first)) === 'ok') return undefined;
  return `REDIS_CLUSTER_NODES is unset and no Redis Cluster answers cluster_state:ok at ${DEFAULT_NODES}; run scripts/cluster-up.sh`;
}

/** Print the plain notice when a Cluster suite is skipped. */
export function announceClusterSkip(suite: string, reason: string | undefined): void {
  if (reason !== undefined) console.warn(`Redis Cluster suite did not run: ${suite}: ${reason}`);
}

/**
 * ioredis Cluster options that fail fast as {@link REDIS_CLIENT_OPTIONS} does for one Redis: no
 * offline queue, no retried or resent commands, a one-second connect timeout, reconnecting at
 * most a second apart. ioredis keeps each node connection's own offline queue on and its
 * reconnection off whatever is passed (it waits for MOVED and refreshes the slots instead); the
 * store bounds every call by `commandTimeoutMs` anyway.
 */
export const CLUSTER_CLIENT_OPTIONS: ClusterOptions = Object.freeze({
  enableOfflineQueue: REDIS_CLIENT_OPTIONS.enableOfflineQueue,
  clusterRetryStrategy: REDIS_CLIENT_OPTIONS.retryStrategy,
  slotsRefreshTimeout: REDIS_CLIENT_OPTIONS.connectTimeout,
  redisOptions: {
    maxRetriesPerRequest: REDIS_CLIENT_OPTIONS.maxRetriesPerRequest,
    autoResendUnfulfilledCommands: REDIS_CLIENT_OPTIONS.autoResendUnfulfilledCommands,
    connectTimeout: REDIS_CLIENT_OPTIONS.connectTimeout,
  },
});

/** A Cluster client with {@link CLUSTER_CLIENT_OPTIONS} and an error listener, ready (≤ 5 s). */
export async function connectCluster(
  extra: ClusterOptions = {},
  onError: (error: Error) => void = () => {},
  nodes: readonly ClusterNode[] = CLUSTER_NODES,
): Promise<Cluster> {
  const client = new Cluster([...nodes], { ...CLUSTER_CLIENT_OPTIONS, ...extra });
  client.on('error', onError);
  await whenClusterReady(client);
  // "ready" means the slot map is known; the connection to each node opens on its first
  // command. Open them now (PING each primary), as a Redis client is connected once ready, so a
  // test's first calls do not pay three connects against its 250 ms bound.
  await Promise.all(client.nodes('master').map((node) => node.ping()));
  return client;
}

/** Resolves once `client` is ready (at most 5 s); rejects, and disconnects it, otherwise. */
export async function whenClusterReady(client: Cluster): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.disconnect();
      reject(new Error(`Redis Cluster client not ready within 5 s (${client.status})`));
    }, 5000);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Delete every key under `prefix` on every primary (bounded SCAN per node). */
export async function deleteClusterPrefix(client: Cluster, prefix: string): Promise<number> {
  let deleted = 0;
  for (const node of client.nodes('master')) {
    let cursor = '0';
    for (let round = 0; round < 10_000; round++) {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      // One UNLINK per key: keys of one node may still lie in different slots.
      for (const k of keys) deleted += await node.unlink(k);
      cursor = next;
      if (cursor === '0') break;
    }
  }
  return deleted;
}

/** The hash slot of `key`, as the Cluster computes it (`CLUSTER KEYSLOT`). */
export async function keySlot(client: Cluster, key: string): Promise<number> {
  return Number(await client.call('CLUSTER', 'KEYSLOT', key));
}

/** A throw-away Cluster of this test file's own, started by `scripts/cluster-up.sh`. */
export interface LocalCluster {
  readonly nodes: readonly ClusterNode[];
  /** Where the nodes keep their pid files and logs (`<dir>/<port>/`). */
  readonly dir: string;
  /** Stop every node (`scripts/cluster-down.sh`) and delete its state. */
  stop(): void;
}

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Start a six-node Cluster on `port`…`port + 5` in a fresh temp dir (at most 60 s), for a test
 * that kills nodes and must not disturb the shared one. Throws with the script's output if it
 * does not come up.
 */
export function startLocalCluster(port: number): LocalCluster {
  const dir = mkdtempSync(join(tmpdir(), 'wsguard-cluster-'));
  const env = { ...process.env, CLUSTER_PORT: String(port), CLUSTER_DIR: dir };
  const up = spawnSync(join(root, 'scripts/cluster-up.sh'), {
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  const line = /^REDIS_CLUSTER_NODES=(.+)$/m.exec(up.stdout ?? '');
  const stop = () => {
    spawnSync(join(root, 'scripts/cluster-down.sh'), { env, encoding: 'utf8', timeout: 30_000 });
  };
  if (up.status !== 0 || !line) {
    stop();
    throw new Error(`scripts/cluster-up.sh failed (${up.status}): ${up.stderr}${up.stdout}`);
  }
  return { nodes: parseNodes(line[1]!), dir, stop };
}
