/**
 * The per-frame path of the Node integrations without sockets: `npx tsx
 * bench/integrations-path.bench.ts`. On loopback a frame costs ~15 µs of server CPU, most of it
 * the kernel's (one `writev` per echo) and the scheduler's, and the run-to-run spread of
 * `bench/integrations-node.bench.ts` (±10 %) hides anything under ~1.5 µs. Here the same code
 * runs in one process over a stand-in `ws` socket whose `send` does nothing, so only the
 * JavaScript between `ws` emitting a frame and the echo reaching `ws.send` is timed:
 *
 * - bare `ws` app: `ws.on('message', (data) => ws.send(JSON.stringify(JSON.parse(String(data)))))`;
 * - crossws alone (h3's unguarded route): crossws's Node adapter, the app parses `message.text()`;
 * - guarded, crossws hooks (Express, Fastify, Hono and h3 on Node): crossws's Node adapter with
 *   the guard's hooks as `adapters/node.ts` mounts them, the app echoing `value`;
 * - guarded `ws` app: the same, with `adapters/ws-bridge.ts` handing frames to the app's listener.
 *
 * Each figure is CPU µs per frame, and the difference from the bare row in the same round (median
 * and quartiles over rounds, so drift falls on both). With `WSGUARD_BASE` naming a checkout of an
 * older commit (see `bench/integrations-node.bench.ts`), the guarded rows also run on that tree's
 * sources, as `before:` rows. tsx's `keepNames` helper does not show here: no closure is made per
 * frame (measured the same bundled).
 *
 * Bounded: `BENCH_ROUNDS` rounds (default 21) of `BENCH_FRAMES` frames per case (default 50,000).
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import nodeAdapter from 'crossws/adapters/node';
import { SignJWT } from 'jose';
import { NodeRequest } from 'srvx/node';
import { HIGH } from './full-check-limits.ts';
import { CHAT_FRAME } from './guard.bench.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const FRAMES = Number(process.env.BENCH_FRAMES ?? 50_000);
const secret = 'integrations-path-bench-secret-0123456789';

let echoes = 0;
/** The stand-in `ws` socket: an emitter whose `send` only counts. */
class StandInSocket extends EventEmitter {
  readyState = 1;
  bufferedAmount = 0;
  _socket = new EventEmitter();
  send(_data?: unknown): void {
    echoes++;
  }
  close(): void {}
  terminate(): void {}
  ping(): void {}
}
/** The stand-in `WebSocketServer` crossws upgrades through (`wss` option). */
class StandInServer extends EventEmitter {
  options = { perMessageDeflate: false };
  handleUpgrade(_req: unknown, _socket: unknown, _head: unknown, cb: (ws: StandInSocket) => void) {
    cb(new StandInSocket());
  }
}

/** A handshake's `IncomingMessage`, as much of it as crossws, srvx and the guard read. */
function handshake(token: string): Record<string, unknown> {
  const headers = {
    host: 'bench.example',
    authorization: `Bearer ${token}`,
    upgrade: 'websocket',
    connection: 'upgrade',
    'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'sec-websocket-version': '13',
  };
  return {
    method: 'GET',
    url: '/',
    httpVersion: '1.1',
    headers,
    rawHeaders: Object.entries(headers).flat(),
    socket: { remoteAddress: '127.0.0.1' },
  };
}

/** Open one socket through crossws's Node adapter with `hooks`; resolves to its stand-in. */
async function open(hooks: object, token: string, setup?: (req: Request) => void) {
  const wss = new StandInServer();
  let socket: StandInSocket | undefined;
  wss.on('connection', (ws: StandInSocket) => {
    socket = ws;
  });
  const adapter = nodeAdapter({ hooks: hooks as never, wss: wss as never });
  const req = handshake(token);
  const request = new NodeRequest({ req: req as never });
  setup?.(request);
  await adapter.handleUpgrade(req as never, {} as never, Buffer.alloc(0), request);
  await new Promise((r) => setTimeout(r, 10)); // the open hooks' microtasks
  if (!socket) throw new Error('the stand-in socket did not open');
  return socket;
}

type Echo = { value: unknown };

/** The two guarded sockets of one source tree (this checkout or the base). */
async function guardedSockets(tree: string, token: string): Promise<StandInSocket[]> {
  const load = (path: string) => import(pathToFileURL(resolve(tree, path)).href);
  const [{ createGuard }, { hooksFor }, { setClient }, { bridgeHooks }] = await Promise.all([
    load('src/mod.ts'),
    load('src/transport/serve.ts'),
    load('src/transport/slots.ts'),
    load('adapters/ws-bridge.ts'),
  ]);
  const socket = async (app: (wss: EventEmitter) => object) => {
    const guard = createGuard({
      origins: ['https://bench.example'],
      jwt: { algorithms: ['HS256'], secret },
      limits: { connectRate: HIGH, messageRate: HIGH, userMessageRate: HIGH },
      audit: false,
    });
    const appServer = Object.assign(new EventEmitter(), { clients: new Set() });
    // As `adapters/node.ts` mounts them (no open timer: the stand-in opens at once).
    const hooks = hooksFor({ guard, hooks: app(appServer), hookOptions: { openTimeoutMs: 0 } });
    return open(hooks, token, (request) =>
      setClient(request, { ip: '127.0.0.1', secure: false, alive: () => true }),
    );
  };
  return [
    await socket(() => ({
      message: (peer: { send(d: string): void }, _m: unknown, { value }: Echo) =>
        peer.send(JSON.stringify(value)),
    })),
    await socket((wss) => {
      wss.on('connection', (ws: StandInSocket) =>
        ws.on('message', (_d: unknown, _b: boolean, g?: Echo) => ws.send(JSON.stringify(g?.value))),
      );
      return bridgeHooks(wss, undefined);
    }),
  ];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const quartiles = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${s[s.length >> 2]!.toFixed(2)}–${s[(3 * s.length) >> 2]!.toFixed(2)}`;
};

async function main(): Promise<void> {
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('bench')
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(secret));
  const bare = new StandInSocket();
  bare.on('message', (data: Buffer) => bare.send(JSON.stringify(JSON.parse(String(data)))));
  const crossws = await open(
    {
      message: (peer: { send(d: string): void }, m: { text(): string }) =>
        peer.send(JSON.stringify(JSON.parse(m.text()))),
    },
    token,
  );
  const cases: [string, StandInSocket][] = [
    ['bare ws app (app parses JSON)', bare],
    ['crossws alone (app parses JSON)', crossws],
  ];
  const base = process.env.WSGUARD_BASE;
  const sides: [string, string][] = base
    ? [
        ['before: ', base],
        ['after: ', resolve(import.meta.dirname, '..')],
      ]
    : [['', resolve(import.meta.dirname, '..')]];
  for (const [prefix, tree] of sides) {
    const [hooks, bridged] = await guardedSockets(tree, token);
    cases.push([`${prefix}guarded, crossws hooks (Express, Fastify, Hono, h3)`, hooks!]);
    cases.push([`${prefix}guarded ws app (ws-bridge)`, bridged!]);
  }
  const frame = Buffer.from(CHAT_FRAME);
  const cpu = cases.map((): number[] => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, [name, ws]] of cases.entries()) {
      const before = echoes;
      const start = process.cpuUsage();
      for (let k = 0; k < FRAMES; k++) ws.emit('message', Buffer.from(frame), false);
      const used = process.cpuUsage(start);
      if (echoes - before !== FRAMES) throw new Error(`${name}: ${echoes - before} echoes`);
      if (r > 0) cpu[i]!.push((used.user + used.system) / FRAMES); // round 0 warms up
    }
  }
  console.log(
    `### The per-frame path without sockets (${ROUNDS - 1} rounds × ${FRAMES} frames, 197-byte JSON)\n`,
  );
  console.log('| case | CPU µs/frame (median) | − bare, same round (median) | quartiles |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const [i, [name]] of cases.entries()) {
    const diffs = cpu[i]!.map((x, r) => x - cpu[0]![r]!);
    const row = i === 0 ? '– | –' : `${median(diffs).toFixed(2)} | ${quartiles(diffs)}`;
    console.log(`| ${name} | ${median(cpu[i]!).toFixed(2)} | ${row} |`);
  }
}

await main();
process.exit(0); // the guards' timers
