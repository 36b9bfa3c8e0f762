// The store on a Redis Cluster: a client that fails fast, warmed up before serving.
import { Cluster } from 'ioredis';
import { createGuard } from 'wsguard';
import { createRedisStore } from 'wsguard/redis';

const secret = process.env.JWT_SECRET;
if (!secret) throw new Error('set JWT_SECRET to 32 or more random bytes (openssl rand -hex 32)');
const nodes = (process.env.REDIS_CLUSTER_NODES ?? '127.0.0.1:7100').split(',').map((node) => {
  const [host = '127.0.0.1', port = '6379'] = node.split(':');
  return { host, port: Number(port) };
});

const cluster = new Cluster(nodes, {
  enableOfflineQueue: false,
  clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 1000),
  slotsRefreshTimeout: 1000,
  redisOptions: {
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: 1000,
  },
});
cluster.on('error', (error) => console.warn('redis cluster:', error.message));
// Ready once the slot map is known; each node's connection opens on its first command, so open
// them now rather than on the first handshakes.
await new Promise<void>((resolve) => cluster.once('ready', () => resolve()));
await Promise.all(cluster.nodes('master').map((node) => node.ping()));

export const guard = createGuard({
  origins: ['https://app.example.com'],
  jwt: { algorithms: ['HS256'], secret },
  tickets: true,
  // Every multi-key script keeps its keys in one slot (hash tags): the store needs nothing else.
  store: createRedisStore({ client: cluster }),
  requireSharedStore: true,
});
