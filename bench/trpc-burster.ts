/**
 * The burst consumer of `bench/trpc.bench.ts`, in its own process so that reading 100,000 events
 * does not delay the measuring client's own event loop. Driven over IPC:
 * `{ type: 'burst', url, headers, n }` → connects, answers `{ type: 'ready' }`, waits for
 * `{ type: 'go' }`, subscribes to `burst`, reads until `stopped`, answers
 * `{ type: 'done', events, ms }` and closes.
 */
import WebSocket from 'ws';

interface BurstCommand {
  readonly type: 'burst';
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly n: number;
}

const send = (m: unknown): void => {
  process.send?.(m);
};

process.on('message', (m: BurstCommand | { type: 'exit' }) => {
  if (m.type === 'exit') process.exit(0);
  if (m.type !== 'burst') return;
  const ws = new WebSocket(m.url, {
    perMessageDeflate: false,
    headers: m.headers,
    localAddress: '127.0.0.3',
  });
  ws.once('error', (error) => send({ type: 'error', message: String(error) }));
  ws.once('open', () => {
    let events = 0;
    let start = 0;
    ws.on('message', (data: Buffer) => {
      events++;
      if (data.includes('"stopped"')) {
        send({ type: 'done', events: events - 2, ms: performance.now() - start });
        ws.terminate();
      }
    });
    const go = (c: { type: string }) => {
      if (c.type !== 'go') return;
      process.off('message', go);
      start = performance.now();
      ws.send(
        JSON.stringify({
          id: 1,
          method: 'subscription',
          params: { path: 'burst', input: { n: m.n } },
        }),
      );
    };
    process.on('message', go);
    send({ type: 'ready' });
  });
});
process.on('disconnect', () => process.exit(0));
