/**
 * Another client's round trip while a fast burst runs (`bench/trpc.bench.ts`'s latency section):
 * a client pings (`ping` query, open loop, one every 2 ms) while a separate process
 * (`bench/trpc-burster.ts`) reads a 100,000-event burst; p50/p99 idle vs during the burst.
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import type WebSocket from 'ws';
import { open, type Server } from './trpc-clients.ts';

/** The `p`th percentile of `xs` (nearest rank). */
export const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

/** Ping every 2 ms (open loop) while `during` runs; the round trips of pings sent meanwhile. */
async function pingWhile(ws: WebSocket, during: () => Promise<void>): Promise<number[]> {
  const sentAt = new Map<number, number>();
  const rtts: number[] = [];
  let id = 1_000_000 * Math.floor(Math.random() * 1000);
  let settle: (() => void) | undefined;
  const onMessage = (data: Buffer) => {
    const m = /"id":(\d+)/.exec(data.toString('latin1', 0, 40));
    const t = m ? sentAt.get(Number(m[1])) : undefined;
    if (t === undefined) return;
    rtts.push(performance.now() - t);
    sentAt.delete(Number(m![1]));
    if (sentAt.size === 0) settle?.();
  };
  ws.on('message', onMessage);
  const timer = setInterval(() => {
    id++;
    sentAt.set(id, performance.now());
    ws.send(`{"id":${id},"method":"query","params":{"path":"ping"}}`);
  }, 2);
  try {
    await during();
  } finally {
    clearInterval(timer);
  }
  if (sentAt.size > 0)
    await Promise.race([
      new Promise<void>((r) => {
        settle = r;
      }),
      new Promise((r) => setTimeout(r, 10_000)),
    ]);
  ws.off('message', onMessage);
  if (sentAt.size > 0) throw new Error(`${sentAt.size} pings unanswered`);
  return rtts;
}

/** Run one burst of `n` events in the burster process; resolves when it is read to the end. */
function burst(
  burster: ChildProcess,
  server: Server,
  n: number,
): Promise<{ events: number; ms: number }> {
  return new Promise((ok, fail) => {
    const onMessage = (m: { type: string; events?: number; ms?: number; message?: string }) => {
      if (m.type === 'ready') burster.send({ type: 'go' });
      else if (m.type === 'done') {
        burster.off('message', onMessage);
        ok({ events: m.events!, ms: m.ms! });
      } else if (m.type === 'error') {
        burster.off('message', onMessage);
        fail(new Error(m.message));
      }
    };
    burster.on('message', onMessage);
    burster.send({ type: 'burst', url: server.url, headers: server.headers, n });
  });
}

/** Pings to `pinged`, idle and during bursts on `burstOn` (3 rounds of each, interleaved). */
async function pingDuringBursts(
  pinged: Server,
  burstOn: Server,
  burster: ChildProcess,
  n: number,
): Promise<{ idle: number[]; during: number[]; rate: number }> {
  const ws = await open(pinged);
  // Warm both paths once, unmeasured.
  await pingWhile(ws, () => new Promise((r) => setTimeout(r, 300)));
  await burst(burster, burstOn, n);
  const idle: number[] = [];
  const during: number[] = [];
  let rate = 0;
  for (let round = 0; round < 3; round++) {
    idle.push(...(await pingWhile(ws, () => new Promise((r) => setTimeout(r, 1000)))));
    during.push(
      ...(await pingWhile(ws, async () => {
        const b = await burst(burster, burstOn, n);
        if (b.events !== n) throw new Error(`${burstOn.name}: burst of ${b.events}`);
        rate += (1000 * b.events) / b.ms / 3;
      })),
    );
  }
  ws.terminate();
  return { idle, during, rate };
}

/**
 * Another client's round trip during a fast burst, for each server (tRPC's, then each guarded
 * one: before and after, with a base tree); plus a control row: the last guarded server (this
 * checkout's) pinged while the burst runs on tRPC's, which shows what the machine's CPU
 * contention alone (burst server + burst reader busy on 2 cores) does to the round trip of a
 * server that has nothing else to do. Rows run one after another, not interleaved.
 */
export async function latency(
  trpc: Server,
  guarded: readonly Server[],
  burster: ChildProcess,
): Promise<string> {
  const N = 100_000;
  const rows: string[] = [];
  const control = guarded.at(-1)!;
  for (const [label, pinged, burstOn] of [
    [trpc.name, trpc, trpc] as const,
    ...guarded.map((s) => [s.name, s, s] as const),
    [`control: ${control.name}, idle, while ${trpc.name} bursts`, control, trpc] as const,
  ]) {
    const { idle, during, rate } = await pingDuringBursts(pinged, burstOn, burster, N);
    const idle99 = percentile(idle, 99);
    const during99 = percentile(during, 99);
    rows.push(
      `| ${label} | ${rate.toFixed(0)} | ${percentile(idle, 50).toFixed(2)} / ${idle99.toFixed(2)} ms | ${percentile(during, 50).toFixed(2)} / ${during99.toFixed(2)} ms | ${(during99 / idle99).toFixed(1)}× | ${idle.length} / ${during.length} |`,
    );
  }
  return [
    `### Another client's round trip during a ${N.toLocaleString('en')}-event burst (Node, 3 bursts each)`,
    '',
    '| pinged server | burst events/s | idle p50 / p99 | during burst p50 / p99 | p99 during ÷ idle | samples idle / during |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
}
