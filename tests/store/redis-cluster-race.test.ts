/**
 * Three processes, each with its own Redis Cluster connection, race for the same 2,000 tickets
 * (issued and redeemed with the real `createTickets`): every ticket is redeemed exactly once, and
 * the tickets' keys spread over every primary of the Cluster.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.ts';
import { createTickets } from '../../src/auth/tickets.ts';
import { createRedisStore } from '../../src/store/redis.ts';
import {
  announceClusterSkip,
  CLUSTER_NODES,
  clusterSkipReason,
  connectCluster,
  deleteClusterPrefix,
} from './cluster-env.ts';
import { uniquePrefix } from './redis-env.ts';

const skip = await clusterSkipReason();
announceClusterSkip('tests/store/redis-cluster-race.test.ts', skip);

const alice: Principal = { sub: 'alice', roles: ['user'], permissions: [] };

/** One racer process: resolves `ready` once it is connected, `done` with what it redeemed. */
function startRacer(nodes: string, prefix: string, seed: number) {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const racer = join(root, 'tests/store/fixtures/ticket-racer.ts');
  const child = spawn(join(root, 'node_modules/.bin/tsx'), [racer, nodes, prefix, String(seed)], {
    cwd: root,
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += String(d);
  });
  const lines = createInterface({ input: child.stdout });
  const ready = new Promise<void>((resolve) => lines.once('line', () => resolve()));
  const done = new Promise<{ won: number[]; lost: number; errors: number }>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line.startsWith('{')) resolve(JSON.parse(line));
    });
    child.once('exit', (code) =>
      reject(new Error(`racer ${seed} exited with ${code}: ${stderr.slice(0, 500)}`)),
    );
  });
  done.catch(() => {});
  return { child, ready, done };
}

describe.skipIf(skip !== undefined)(
  `three processes race for the same 2,000 tickets on Redis Cluster${skip ? ` (did not run: ${skip})` : ''}`,
  () => {
    const prefix = uniquePrefix('cluster-race');
    const children: ChildProcessWithoutNullStreams[] = [];
    let cluster: Cluster;
    let file: string | undefined;

    beforeAll(async () => {
      cluster = await connectCluster();
    });
    afterEach(() => {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    });
    afterAll(async () => {
      if (file) await rm(file, { force: true });
      if (cluster) {
        await deleteClusterPrefix(cluster, prefix);
        await cluster.quit();
      }
    });

    it('redeems every ticket exactly once across the three', async () => {
      const nodes = CLUSTER_NODES.map((n) => `${n.host}:${n.port}`).join(',');
      const racers = [1, 2, 3].map((seed) => startRacer(nodes, prefix, seed));
      children.push(...racers.map((r) => r.child));
      await Promise.all(racers.map((r) => r.ready));

      // Issued after the racers are up, so no ticket nears its TTL during the race.
      const tickets = createTickets(createRedisStore({ client: cluster, prefix }), {
        ttlMs: 30_000,
      });
      const issued: string[] = [];
      for (let batch = 0; batch < 10; batch++) {
        const some = await Promise.all(
          Array.from({ length: 200 }, () => tickets.issue(alice).then((t) => t.ticket)),
        );
        issued.push(...some);
      }
      // The tickets' keys lie on every primary: the race runs on all three nodes at once.
      const perNode = await Promise.all(
        cluster.nodes('master').map(async (node) => (await node.keys(`${prefix}*`)).length),
      );
      expect(
        perNode.every((n) => n > 0),
        `ticket keys per primary: ${perNode}`,
      ).toBe(true);
      file = join(tmpdir(), `wsguard-cluster-race-${crypto.randomUUID()}.json`);
      await writeFile(file, JSON.stringify(issued));
      for (const r of racers) r.child.stdin.end(`${file}\n`);

      const outcomes = await Promise.all(racers.map((r) => r.done));
      const won = outcomes.flatMap((o) => o.won);
      expect(outcomes.map((o) => o.errors)).toEqual([0, 0, 0]);
      expect(won).toHaveLength(2000);
      expect(new Set(won).size).toBe(2000);
      expect(outcomes.reduce((n, o) => n + o.lost, 0)).toBe(4000);
    }, 30_000);
  },
);
