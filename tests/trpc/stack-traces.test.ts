/**
 * Error replies carry no stack trace unless the app opts in (issue 13, "Stack traces in tRPC error
 * replies"). tRPC adds `error.data.stack` whenever its `isDev` is on, which it is unless
 * `NODE_ENV` is exactly 'production': a server started without `NODE_ENV` told every client its
 * file paths. Each case builds its router after setting `NODE_ENV` (tRPC reads it at
 * `initTRPC.create()` and at `.errors()`), serves it the way an app does (wsguard's Node adapter +
 * `trpcHooks`), and drives every error path with the unmodified `@trpc/client` over a socket that
 * records each frame it receives; every frame is then walked for a `stack` key at any depth.
 */
import { createTRPCClient, createWSClient, TRPCClientError, wsLink } from '@trpc/client';
import { initTRPC, TRPCError } from '@trpc/server';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import type { GuardedContext, GuardedMeta, TRPCBridgeOptions } from '../../src/trpc.ts';
import { bounded } from '../helpers/bounded.ts';
import { type ServedBridge, serveBridge, sign, testGuard } from './serve-bridge.ts';

/** Build the router under the current `NODE_ENV` (tRPC decides `isDev` here). */
function makeStackRouter(isDev?: boolean) {
  const t = initTRPC
    .context<GuardedContext>()
    .meta<GuardedMeta>()
    .create(isDev === undefined ? {} : { isDev });
  return t.router({
    ok: t.procedure.query(() => 'ok'),
    boom: t.procedure.query(() => {
      throw new Error('boom: a server fault');
    }),
    teapot: t.procedure.mutation(() => {
      throw new TRPCError({ code: 'CONFLICT', message: 'taken', cause: new Error('inner') });
    }),
    // A procedure-level formatter: tRPC builds its shape with its own isDev, before the bridge.
    formatted: t.procedure
      .errors(({ shape }) => ({ ...shape, data: { ...shape.data, formatted: true } }))
      .query(() => {
        throw new Error('formatted fault');
      }),
    echo: t.procedure.input(z.object({ n: z.number() })).query(({ input }) => input.n),
    secret: t.procedure.meta({ permission: 'admin.read' }).query(() => 'secret'),
    failing: t.procedure.subscription(async function* () {
      yield 1;
      throw new Error('subscription fault');
    }),
    hidden: t.procedure.meta({ permission: 'admin.read' }).subscription(async function* () {
      yield 1;
    }),
    live: t.procedure.subscription(async function* ({ signal }) {
      yield 0;
      await new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve()));
    }),
  });
}
type StackRouter = ReturnType<typeof makeStackRouter>;

const served: ServedBridge[] = [];
const opened: { close(): void }[] = [];
const savedEnv = process.env['NODE_ENV'];
afterEach(async () => {
  for (const c of opened.splice(0)) c.close();
  for (const s of served.splice(0)) await s.close();
  if (savedEnv === undefined) delete process.env['NODE_ENV'];
  else process.env['NODE_ENV'] = savedEnv;
});

function setNodeEnv(value: string | undefined): void {
  if (value === undefined) delete process.env['NODE_ENV'];
  else process.env['NODE_ENV'] = value;
}

/** The tRPC error code a call failed with ('ok' when it did not fail). */
async function codeOf(p: Promise<unknown>, what: string): Promise<string> {
  try {
    await bounded(p, what);
    return 'ok';
  } catch (e) {
    if (e instanceof TRPCClientError) return (e.data as { code?: string } | null)?.code ?? 'none';
    throw e;
  }
}

/** Every path (dotted) of a `stack` key in a parsed frame, at any depth. */
function stackKeys(value: unknown, path = '$', out: string[] = []): string[] {
  if (typeof value !== 'object' || value === null) return out;
  for (const [k, v] of Object.entries(value)) {
    if (k === 'stack') out.push(`${path}.${k}`);
    stackKeys(v, `${path}.${k}`, out);
  }
  return out;
}

/** The real client over a socket that records every frame the server sent. */
async function recordingClient(s: ServedBridge, sub: string) {
  const frames: unknown[] = [];
  class RecordingSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      this.on('message', (d: Buffer) => {
        const text = d.toString();
        frames.push(text === 'PONG' ? text : JSON.parse(text));
      });
    }
  }
  const ws = createWSClient({
    url: `${s.wsUrl}?token=${await sign(sub, ['user'])}`,
    WebSocket: RecordingSocket as unknown as typeof globalThis.WebSocket,
    retryDelayMs: () => 50,
  });
  opened.push(ws);
  return { frames, trpc: createTRPCClient<StackRouter>({ links: [wsLink({ client: ws })] }) };
}

/** Subscribe and wait for its error code (after `onStarted`, `afterStart` runs). */
function subscriptionError(
  trpc: ReturnType<typeof createTRPCClient<StackRouter>>,
  path: 'failing' | 'hidden' | 'live' | 'nope',
  afterStart?: () => Promise<unknown>,
): Promise<string> {
  return bounded(
    new Promise<string>((resolve) => {
      const procedures = trpc as unknown as Record<
        string,
        {
          subscribe(
            input: undefined,
            opts: { onStarted(): void; onError(e: unknown): void },
          ): { unsubscribe(): void };
        }
      >;
      const subscription = procedures[path]!.subscribe(undefined, {
        onStarted: () => {
          void afterStart?.();
        },
        onError: (e) => {
          subscription.unsubscribe();
          resolve(
            e instanceof TRPCClientError
              ? ((e.data as { code?: string } | null)?.code ?? 'none')
              : 'other',
          );
        },
      });
    }),
    `subscription ${path}`,
  );
}

interface Run {
  /** Every error reply the clients received. */
  readonly errors: { readonly frame: unknown; readonly code: string | undefined }[];
  /** Every frame the clients received. */
  readonly frames: unknown[];
}

/**
 * Serve the router and drive every error path: unknown path (query and subscription), a thrown
 * error, a TRPCError with a cause, a `.errors()` formatted error, input validation, a permission
 * refusal, a frame the guard refuses (forbidden key), a batch too large, a batch over the rate, a
 * frame over the rate, a subscription that throws, one refused by permission and one stopped by
 * re-authorization.
 */
async function driveErrorPaths(
  router: StackRouter,
  extra: Partial<TRPCBridgeOptions<StackRouter>> = {},
): Promise<Run> {
  let allowed = true;
  const main = await serveBridge(testGuard(), {
    router,
    reauthorize: () => allowed,
    ...extra,
  });
  served.push(main);
  // Three frames per connection: every refusal below is a known count of frames in.
  const tight = await serveBridge(
    testGuard({ limits: { messageRate: { limit: 1, windowMs: 60_000, burst: 3 } } }),
    { router, maxBatchSize: 3, ...extra },
  );
  served.push(tight);

  const a = await recordingClient(main, 'alice');
  const nope = (a.trpc as unknown as { nope: { query(): Promise<unknown> } }).nope;
  const codes: Record<string, string> = {};
  codes['unknown path'] = await codeOf(nope.query(), 'unknown path');
  codes['thrown error'] = await codeOf(a.trpc.boom.query(), 'boom');
  codes['TRPCError with cause'] = await codeOf(a.trpc.teapot.mutate(), 'teapot');
  codes['.errors() formatter'] = await codeOf(a.trpc.formatted.query(), 'formatted');
  codes['input validation'] = await codeOf(
    a.trpc.echo.query({ n: 'x' as unknown as number }),
    'echo',
  );
  codes['permission'] = await codeOf(a.trpc.secret.query(), 'secret');
  // The client serializes an own `__proto__` key: the guard refuses the frame, the bridge answers.
  codes['guard refusal (forbidden key)'] = await codeOf(
    a.trpc.echo.query(JSON.parse('{"n":1,"__proto__":{"x":1}}') as { n: number }),
    'forbidden key',
  );
  codes['subscription throws'] = await subscriptionError(a.trpc, 'failing');
  codes['subscription unknown path'] = await subscriptionError(a.trpc, 'nope');
  codes['subscription permission'] = await subscriptionError(a.trpc, 'hidden');
  codes['subscription re-authorization'] = await subscriptionError(a.trpc, 'live', async () => {
    allowed = false;
    await main.bridge.reauthorize();
  });

  // One tick, four calls: one batch frame over maxBatchSize (3).
  const b = await recordingClient(tight, 'bob');
  const batch = await Promise.all([1, 2, 3, 4].map((n) => codeOf(b.trpc.echo.query({ n }), 'b')));
  codes['batch too large'] = batch[0]!;
  // Two frames in, then a batch of three: the frame takes the last token, the rest is refused.
  const c = await recordingClient(tight, 'carol');
  for (const n of [1, 2]) expect(await c.trpc.echo.query({ n })).toBe(n);
  const over = await Promise.all([1, 2, 3].map((n) => codeOf(c.trpc.echo.query({ n }), 'c')));
  codes['batch over the rate'] = over[0]!;
  // Three frames in, the fourth is refused by the guard itself (the `refused` hook).
  const d = await recordingClient(tight, 'dave');
  for (const n of [1, 2, 3]) expect(await d.trpc.echo.query({ n })).toBe(n);
  codes['frame over the rate'] = await codeOf(d.trpc.echo.query({ n: 4 }), 'd');

  // Every path was taken, and failed the way it should: a test that reaches no error proves nothing.
  expect(codes).toEqual({
    'unknown path': 'NOT_FOUND',
    'thrown error': 'INTERNAL_SERVER_ERROR',
    'TRPCError with cause': 'CONFLICT',
    '.errors() formatter': 'INTERNAL_SERVER_ERROR',
    'input validation': 'BAD_REQUEST',
    permission: 'FORBIDDEN',
    'guard refusal (forbidden key)': 'BAD_REQUEST',
    'subscription throws': 'INTERNAL_SERVER_ERROR',
    'subscription unknown path': 'NOT_FOUND',
    'subscription permission': 'FORBIDDEN',
    'subscription re-authorization': 'FORBIDDEN',
    'batch too large': 'BAD_REQUEST',
    'batch over the rate': 'TOO_MANY_REQUESTS',
    'frame over the rate': 'TOO_MANY_REQUESTS',
  });
  // At most maxBatchSize replies: the fourth call is failed by the close (1013), not answered.
  expect(batch).toEqual(['BAD_REQUEST', 'BAD_REQUEST', 'BAD_REQUEST', 'none']);
  expect(over.every((x) => x === 'TOO_MANY_REQUESTS')).toBe(true);

  const frames = [...a.frames, ...b.frames, ...c.frames, ...d.frames];
  const errors = frames
    .filter((f): f is { error: { data?: { code?: string } } } => {
      return typeof f === 'object' && f !== null && 'error' in f;
    })
    .map((frame) => ({ frame, code: frame.error.data?.code }));
  return { errors, frames };
}

describe('tRPC error replies carry no stack unless the bridge opts in', () => {
  const envs: [string, string | undefined, boolean | undefined][] = [
    ['NODE_ENV unset', undefined, undefined],
    ["NODE_ENV='development'", 'development', undefined],
    ["NODE_ENV='production'", 'production', undefined],
    ['initTRPC isDev: true', 'production', true],
  ];
  for (const [name, env, isDev] of envs) {
    it(`${name}: no frame has a stack key, on any error path`, async () => {
      setNodeEnv(env);
      const run = await driveErrorPaths(makeStackRouter(isDev));
      // 11 single calls, 3 + 3 calls of the refused batches, 1 frame over the rate.
      expect(run.errors.length).toBe(18);
      const leaks = run.frames.flatMap((f) => stackKeys(f));
      expect(leaks).toEqual([]);
      // Not even the text of one: the replies name no server file.
      expect(JSON.stringify(run.frames)).not.toContain('stack-traces.test.ts');
    });
  }

  it('exposeStackTraces: true sends the stack on procedure errors, even in production; refusals never', async () => {
    setNodeEnv('production');
    const run = await driveErrorPaths(makeStackRouter(), { exposeStackTraces: true });
    const withStack = run.errors.filter((e) => stackKeys(e.frame).length > 0);
    const codes = new Set(withStack.map((e) => e.code));
    // The procedure's own errors carry it: the option works, so the absence above means something.
    expect(codes.has('INTERNAL_SERVER_ERROR')).toBe(true);
    expect(codes.has('NOT_FOUND')).toBe(true);
    expect(codes.has('BAD_REQUEST')).toBe(true);
    for (const e of withStack) {
      expect(stackKeys(e.frame)).toEqual(['$.error.data.stack']);
      expect(typeof (e.frame as { error: { data: { stack: unknown } } }).error.data.stack).toBe(
        'string',
      );
    }
    // Refusals of whole frames (rate, batch size) were made by the bridge: never a stack.
    const refusals = run.errors.filter((e) => e.code === 'TOO_MANY_REQUESTS');
    expect(refusals.length).toBeGreaterThanOrEqual(4);
    for (const e of refusals) expect(stackKeys(e.frame)).toEqual([]);
  });
});
