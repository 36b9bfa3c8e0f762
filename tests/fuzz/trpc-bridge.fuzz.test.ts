/**
 * Fuzz: the tRPC bridge on random and mutated protocol frames, over the real server path
 * (wsguard's Node adapter + `trpcHooks` + the guard + the bridge, a real socket on loopback; see
 * tests/trpc/serve-bridge.ts). The principal has the `user` role (`chat.*`) and nothing else; the
 * router has privileged procedures of every kind (a `meta.permission` mutation, a
 * `requirePermission` middleware, one behind a `lazy()` router, a subscription), each recording
 * every run.
 *
 * Frames are built from calls with random ids (numbers, strings, huge, negative, null, objects,
 * missing), methods, paths (the privileged ones and their look-alikes: case, dots, spaces,
 * `__proto__`, `\u` escapes), inputs and `lastEventId`, batched (under and over `maxBatchSize`,
 * with junk elements), with duplicate keys (the first and the last `method` differ), forbidden
 * keys (the guard refuses the frame and the bridge answers its calls), then byte-level edits;
 * plus `PING`/`PONG`, `connectionParams` frames and connections that wait for them.
 *
 * Per frame (one frame per connection, then a marker call to know the answers are in):
 * - no privileged procedure ever runs;
 * - at most `maxBatchSize` answers (every reply but a subscription's `stopped`);
 * - every answer of a frame that parses carries an id of that frame, or null;
 * - the bridge reports no INTERNAL_SERVER_ERROR, the hooks and the guard report no failure, and
 *   nothing escapes (the crash detector); a connection left open still answers the marker.
 */
import { initTRPC, lazy } from '@trpc/server';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { type GuardedContext, type GuardedMeta, requirePermission } from '../../src/trpc.ts';
import { type ServedBridge, serveBridge, sign, testGuard } from '../trpc/serve-bridge.ts';
import { abbreviate, fuzz, timeoutOf } from './fuzz.ts';

const MAX_BATCH = 6;

/** Every run of a privileged procedure. */
const runs: string[] = [];

const t = initTRPC.context<GuardedContext>().meta<GuardedMeta>().create();
const aborted = (signal: AbortSignal | undefined): Promise<void> =>
  new Promise((resolve) => {
    if (!signal || signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });

function makeRouter() {
  return t.router({
    ok: t.procedure.query(() => 'ok'),
    echo: t.procedure.input(z.object({ n: z.number() })).query(({ input }) => input.n),
    chat: t.router({
      send: t.procedure
        .meta({ permission: 'chat.send' })
        .input(z.object({ text: z.string().max(20) }))
        .mutation(({ input }) => input.text.length),
    }),
    admin: t.router({
      wipe: t.procedure.meta({ permission: 'admin.wipe' }).mutation(() => {
        runs.push('admin.wipe');
        return 'wiped';
      }),
      kick: t.procedure.use(requirePermission('admin.kick')).mutation(() => {
        runs.push('admin.kick');
        return 'kicked';
      }),
    }),
    vault: lazy(async () =>
      t.router({
        open: t.procedure.meta({ permission: 'admin.vault' }).mutation(() => {
          runs.push('vault.open');
          return 'opened';
        }),
      }),
    ),
    feed: t.procedure.meta({ permission: 'admin.feed' }).subscription(async function* ({ signal }) {
      runs.push('feed');
      yield 'secret';
      await aborted(signal);
    }),
    // Emits nothing: ended only by a stop or the close (its answers are `started`, `stopped`).
    tick: t.procedure.subscription(async function* ({ signal }) {
      await aborted(signal);
      yield* [];
    }),
  });
}

// ---- frames ----------------------------------------------------------------------------------

/** A JSON value written as text, so keys can repeat and be escaped. */
type Json = string;
const obj = (entries: readonly (readonly [string, Json])[]): Json =>
  `{${entries.map(([k, v]) => `${k.startsWith('"') ? k : JSON.stringify(k)}:${v}`).join(',')}}`;

const PATHS = [
  'ok',
  'echo',
  'chat.send',
  'admin.wipe',
  'admin.kick',
  'vault.open',
  'feed',
  'tick',
  'admin',
  'vault',
  'admin.wipe.x',
  'admin..wipe',
  'Admin.wipe',
  'admin.wipe ',
  ' admin.wipe',
  'admin/wipe',
  '__proto__',
  'constructor',
  'toString',
  'admin.__proto__',
  'vault.__proto__.open',
  'admin.constructor',
  '',
];
const idArb: fc.Arbitrary<Json | undefined> = fc.oneof(
  fc.nat(50).map(String),
  fc.constantFrom('-1', '1.5', '1e300', '0', 'null', 'true', '{}', '[]', '""', '"x"', '"1"'),
  fc.constant(JSON.stringify('i'.repeat(300))),
  fc.string({ maxLength: 6 }).map((s) => JSON.stringify(s)),
  fc.constant(undefined),
);
const methodArb: fc.Arbitrary<Json | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('"query"', '"mutation"', '"subscription"') },
  {
    weight: 2,
    arbitrary: fc.constantFrom('"subscription.stop"', '"QUERY"', '"connectionParams"', '1', 'null'),
  },
  { weight: 1, arbitrary: fc.constant(undefined) },
);
const pathArb: fc.Arbitrary<Json | undefined> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...PATHS).map((p) => JSON.stringify(p)) },
  // The path with one letter as a \u escape: the same string once parsed.
  {
    weight: 2,
    arbitrary: fc
      .constantFrom('admin.wipe', 'vault.open', 'feed', 'admin.kick')
      .map(
        (p) => `"${p.slice(0, 2)}\\u${p.charCodeAt(2).toString(16).padStart(4, '0')}${p.slice(3)}"`,
      ),
  },
  { weight: 1, arbitrary: fc.constantFrom('1', 'null', '["admin.wipe"]', '{"0":"a"}') },
  { weight: 1, arbitrary: fc.constant(undefined) },
);
const inputArb: fc.Arbitrary<Json | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('{"n":1}', '{"n":"x"}', '{"text":"hi"}', '{"text":1}', 'null', '[]', '"s"', '1'),
  fc.constantFrom('{"a":{"b":{"c":[1,[2,[3]]]}}}', '{"lastEventId":"7"}', '{"n":1,"n":2}'),
  // A forbidden key: the guard refuses the frame; the bridge answers its calls.
  fc.constantFrom('{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{}}}'),
);

/** The router's procedures with their types: well-formed calls start from these. */
const TARGETS: readonly (readonly [string, string, Json | undefined])[] = [
  ['admin.wipe', '"mutation"', undefined],
  ['admin.kick', '"mutation"', undefined],
  ['vault.open', '"mutation"', undefined],
  ['feed', '"subscription"', undefined],
  ['chat.send', '"mutation"', '{"text":"hi"}'],
  ['echo', '"query"', '{"n":1}'],
  ['ok', '"query"', undefined],
  ['tick', '"subscription"', undefined],
];

/** A well-formed call to one of the router's procedures, then 0–2 of its fields replaced. */
const callArb: fc.Arbitrary<Json> = fc
  .record({
    target: fc.constantFrom(...TARGETS),
    id: fc.nat(50).map(String),
    jsonrpc: fc.boolean(),
    lastEventId: fc.option(fc.constantFrom('"1"', '"1"', '"7"', '1', 'null', '{}'), {
      nil: undefined,
      freq: 6,
    }),
    method2: fc.option(
      methodArb.filter((m) => m !== undefined),
      { nil: undefined, freq: 8 },
    ),
    // Half the calls stay well-formed, so the privileged procedures are reached and refused.
    swaps: fc.oneof(
      fc.constant<string[]>([]),
      fc.uniqueArray(fc.constantFrom('id', 'method', 'path', 'input'), {
        minLength: 1,
        maxLength: 2,
      }),
    ),
    swapId: idArb,
    swapMethod: methodArb,
    swapPath: pathArb,
    swapInput: inputArb,
  })
  .map((c) => {
    const [targetPath, targetMethod, targetInput] = c.target;
    const id = c.swaps.includes('id') ? c.swapId : c.id;
    const method = c.swaps.includes('method') ? c.swapMethod : targetMethod;
    const path = c.swaps.includes('path') ? c.swapPath : JSON.stringify(targetPath);
    const input = c.swaps.includes('input') ? c.swapInput : targetInput;
    const params: [string, Json][] = [];
    if (path !== undefined) params.push(['path', path]);
    if (input !== undefined) params.push(['input', input]);
    if (c.lastEventId !== undefined) params.push(['lastEventId', c.lastEventId]);
    const entries: [string, Json][] = [];
    if (id !== undefined) entries.push(['id', id]);
    if (c.jsonrpc) entries.push(['jsonrpc', '"2.0"']);
    if (method !== undefined) entries.push(['method', method]);
    entries.push(['params', obj(params)]);
    // A second `method` after the params: JSON.parse keeps the last one.
    if (c.method2 !== undefined) entries.push(['method', c.method2]);
    return obj(entries);
  });

const junk = fc.constantFrom('1', 'null', '[]', '"x"', '{}', '[{"id":1,"method":"query"}]');

/** Byte-level edits of a frame's text. */
const edit = fc.oneof(
  fc.tuple(fc.nat(), fc.constantFrom('{', '}', '[', ']', '"', ',', ':', '\\', ' ')).map(
    ([at, ch]) =>
      (s: string) =>
        s.slice(0, at % (s.length + 1)) + ch + s.slice(at % (s.length + 1)),
  ),
  fc.tuple(fc.nat(), fc.nat(6)).map(
    ([at, n]) =>
      (s: string) =>
        s.slice(0, at % (s.length + 1)) + s.slice((at % (s.length + 1)) + n),
  ),
);

const frameArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: callArb },
  {
    weight: 4,
    arbitrary: fc
      .array(fc.oneof({ weight: 8, arbitrary: callArb }, { weight: 1, arbitrary: junk }), {
        maxLength: MAX_BATCH + 2,
      })
      .map((calls) => `[${calls.join(',')}]`),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.oneof(
          callArb,
          fc.array(callArb, { maxLength: 4 }).map((c) => `[${c.join(',')}]`),
        ),
        fc.array(edit, { minLength: 1, maxLength: 3 }),
      )
      .map(([text, edits]) => edits.reduce((s, e) => e(s), text)),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'PING',
      'PONG',
      '{"method":"connectionParams","data":{"token":"x"}}',
      '{"method":"connectionParams","data":null}',
      '{"method":"connectionParams","data":{"__proto__":{}}}',
      '{"id":1,"method":"subscription.stop"}',
      '[]',
      '{}',
      '',
    ),
  },
);

// ---- the server and the oracle ---------------------------------------------------------------

type Reply = {
  id?: unknown;
  result?: { type?: string; data?: unknown };
  error?: { message?: string; data?: { code?: string } };
};

let served: ServedBridge;
const internalErrors: string[] = [];
const failures: string[] = [];
let token = '';

beforeAll(async () => {
  token = await sign('fuzzer', ['user']);
  const guard = testGuard({
    limits: { messageRate: { limit: 200, windowMs: 1000, burst: 4 } },
    onError: (error, { stage }) => failures.push(`guard ${stage}: ${String(error)}`),
  });
  served = await serveBridge(
    guard,
    {
      router: makeRouter(),
      maxBatchSize: MAX_BATCH,
      maxSubscriptions: 3,
      onError: (error, info) => {
        // Procedures here throw only TRPCErrors: an internal error is the bridge's own failure.
        if (error.code === 'INTERNAL_SERVER_ERROR')
          internalErrors.push(`${info.path ?? '-'}: ${error.message} ${error.cause ?? ''}`);
      },
    },
    { onError: (error, { stage }) => failures.push(`serve ${stage}: ${String(error)}`) },
  );
});
afterAll(async () => {
  await served?.close();
});

const modeArb = fc.constantFrom<Mode>('plain', 'plain', 'plain', 'after-params', 'as-params');

const MARKER = '{"id":"marker","method":"query","params":{"path":"ok"}}';

const PARAMS = '{"method":"connectionParams","data":{"lang":"en"}}';

/**
 * How a frame is sent: on a plain connection; on one that waits for `connectionParams`, after
 * valid ones; or as its `connectionParams` frame (then valid ones follow, which are parsed as a
 * call, answered "`id` is required", when the fuzzed frame took the params' place).
 */
type Mode = 'plain' | 'after-params' | 'as-params';

/** Send one frame on a fresh connection, then the marker; collect what comes back. */
async function exchange(frame: string, mode: Mode) {
  const url = `${served.wsUrl}?token=${token}${mode === 'plain' ? '' : '&connectionParams=1'}`;
  const ws = new WebSocket(url);
  const replies: Reply[] = [];
  const raw: string[] = [];
  let closeCode: number | undefined;
  let markerAnswered = false;
  let settle: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    settle = resolve;
  });
  ws.on('message', (d: Buffer) => {
    const text = d.toString();
    raw.push(text);
    const value = text === 'PONG' ? { id: 'PONG' } : (JSON.parse(text) as Reply);
    if (value.id === 'marker') {
      markerAnswered = true;
      settle();
    } else replies.push(value);
  });
  ws.on('close', (code) => {
    closeCode = code;
    settle();
  });
  ws.on('error', () => settle());
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  if (mode === 'after-params') ws.send(PARAMS);
  ws.send(frame);
  if (mode === 'as-params') ws.send(PARAMS);
  ws.send(MARKER);
  const timer = setTimeout(settle, 3000);
  await done;
  clearTimeout(timer);
  // Answers the marker overtook (a lazy router loading): give them a moment.
  await new Promise((r) => setTimeout(r, 5));
  ws.terminate();
  return { replies, raw, closeCode, markerAnswered };
}

/** The ids a frame that parses carries (top level, and in a batch). */
function idsOf(frame: string): Set<unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(frame);
  } catch {
    return undefined;
  }
  const calls = Array.isArray(value) ? value : [value];
  const ids = new Set<unknown>([null]);
  for (const c of calls)
    if (typeof c === 'object' && c !== null && 'id' in c) ids.add((c as { id: unknown }).id);
  return ids;
}

describe('fuzz: the tRPC bridge on mutated frames', () => {
  it('the oracle has teeth: an admin runs every privileged procedure, and each run is recorded', async () => {
    const admin = await sign('root', ['admin']);
    const ws = new WebSocket(`${served.wsUrl}?token=${admin}`);
    const replies: Reply[] = [];
    ws.on('message', (d: Buffer) => replies.push(JSON.parse(d.toString()) as Reply));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const calls = [
      ['admin.wipe', 'mutation'],
      ['admin.kick', 'mutation'],
      ['vault.open', 'mutation'],
      ['feed', 'subscription'],
    ];
    calls.forEach(([path, method], i) => {
      ws.send(JSON.stringify({ id: i + 1, method, params: { path } }));
    });
    const deadline = Date.now() + 3000;
    while (runs.length < calls.length && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    ws.terminate();
    expect([...runs].sort()).toEqual(['admin.kick', 'admin.wipe', 'feed', 'vault.open']);
    runs.length = 0;
    // The same calls from the fuzz principal: all refused, none run.
    const r = await exchange(
      JSON.stringify(calls.map(([path, method], i) => ({ id: i + 1, method, params: { path } }))),
      'plain',
    );
    expect(r.replies.map((x) => x.error?.data?.code)).toEqual(calls.map(() => 'FORBIDDEN'));
    expect(runs).toEqual([]);
  });

  it(
    'never runs a privileged procedure, never answers a frame more than maxBatchSize times',
    async () => {
      const outcomes = { answered: 0, closed: 0 };
      const codes = new Map<string, number>();
      await fuzz(
        'trpc bridge',
        fc.asyncProperty(frameArb, modeArb, async (frame, mode) => {
          const before = { internal: internalErrors.length, failures: failures.length };
          const r = await exchange(frame, mode);
          const context = `${mode} frame ${abbreviate(frame)} → ${abbreviate(r.raw)} close ${r.closeCode}`;
          expect(runs, context).toEqual([]);
          const answers = r.replies.filter(
            (x) =>
              x.result?.type !== 'stopped' &&
              // The valid params that followed a fuzzed params frame, read as a call.
              !(mode === 'as-params' && x.id === null && x.error?.message === '`id` is required'),
          );
          expect(answers.length, context).toBeLessThanOrEqual(MAX_BATCH);
          const ids = idsOf(frame);
          if (ids && mode !== 'as-params')
            for (const x of answers) if (x.id !== 'PONG') expect(ids.has(x.id), context).toBe(true);
          expect(internalErrors.slice(before.internal), context).toEqual([]);
          expect(failures.slice(before.failures), context).toEqual([]);
          // Alive or closed on purpose: an open connection answers the next call.
          if (r.closeCode === undefined) expect(r.markerAnswered, context).toBe(true);
          else expect([1008, 1009, 1013, 4029], context).toContain(r.closeCode);
          outcomes[r.closeCode === undefined ? 'answered' : 'closed']++;
          for (const x of answers) {
            const code = x.error?.data?.code ?? (x.result ? `result:${x.result.type}` : 'PONG');
            codes.set(code, (codes.get(code) ?? 0) + 1);
          }
        }),
        { weight: 2, msPerRun: 25 },
      );
      expect(runs).toEqual([]);
      console.info(`[fuzz] trpc bridge: ${JSON.stringify(outcomes)} ${JSON.stringify([...codes])}`);
      expect(outcomes.answered).toBeGreaterThan(0);
    },
    timeoutOf({ weight: 2, msPerRun: 25 }),
  );
});
