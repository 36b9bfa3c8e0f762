/**
 * The ticket route sheds past `maxPending` requests waiting on the store: 503 at once with a
 * `Retry-After` drawn per response (never the same constant for a whole crowd, which brings it
 * back in one second), and a client trickling its body holds no place. Store failures are told a
 * drawn delay too.
 */
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createGuard, createMemoryStore, type Store, ticketHandler } from '../../../src/mod.ts';

const secret = 'ticket-shed-secret-that-is-32-bytes-long';
const APP = 'https://app.example.com';
const sign = (sub: string) =>
  new SignJWT({ roles: ['user'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(secret));

/** A memory store whose `get` (the ban lookups) waits at a gate until released. */
function gated(): { store: Store; waiting(): number; release(): void } {
  const inner = createMemoryStore();
  const queue: (() => void)[] = [];
  let open = false;
  const store = new Proxy(inner, {
    get(target, prop) {
      const v = Reflect.get(target, prop) as unknown;
      if (typeof v !== 'function') return v;
      const fn = (v as (...a: unknown[]) => unknown).bind(target);
      if (prop !== 'get') return fn;
      return (...args: unknown[]) =>
        open ? fn(...args) : new Promise<void>((r) => queue.push(r)).then(() => fn(...args));
    },
  });
  return {
    store,
    waiting: () => queue.length,
    release() {
      open = true;
      for (const r of queue.splice(0)) r();
    },
  };
}

const guardOn = (store: Store) =>
  createGuard({
    origins: [APP],
    jwt: { algorithms: ['HS256'], secret },
    tickets: true,
    store,
    limits: { connectRate: false },
    audit: false,
    onError: () => {},
  });

const until = async (check: () => boolean) => {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

const ticketPost = async (token: string, body?: ReadableStream) =>
  new Request('http://app/ws/ticket', {
    method: 'POST',
    headers: { origin: APP, authorization: `Bearer ${token}` },
    ...(body ? { body, duplex: 'half' } : {}),
  } as RequestInit);

describe('ticket route shedding', () => {
  it('answers 503 server busy past maxPending, with Retry-After drawn per response', async () => {
    const gate = gated();
    const handler = ticketHandler(guardOn(gate.store), { maxPending: 2, rate: false });
    const token = await sign('alice');
    const held = [
      handler(await ticketPost(token), '203.0.113.1'),
      handler(await ticketPost(token), '203.0.113.2'),
    ];
    await until(() => gate.waiting() === 2);
    const busy = await Promise.all(
      Array.from({ length: 60 }, async () => handler(await ticketPost(token), '203.0.113.3')),
    );
    expect(new Set(busy.map((r) => r.status))).toEqual(new Set([503]));
    expect(await busy[0]!.json()).toEqual({ error: 'server busy' });
    const delays = busy.map((r) => Number(r.headers.get('retry-after')));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...delays)).toBeLessThanOrEqual(5);
    // Drawn, not one constant for the whole crowd.
    expect(new Set(delays).size).toBeGreaterThan(2);
    gate.release();
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
    expect((await handler(await ticketPost(token), '203.0.113.4')).status).toBe(200);
  });

  it('a client trickling its body holds no place', async () => {
    const handler = ticketHandler(guardOn(createMemoryStore()), {
      maxPending: 1,
      rate: false,
      bodyTimeoutMs: 2000,
    });
    const token = await sign('bob');
    let close: (() => void) | undefined;
    const slow = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('{'));
        close = () => c.close();
      },
    });
    const trickling = handler(await ticketPost(token, slow), '203.0.113.9');
    await new Promise((r) => setTimeout(r, 20));
    expect((await handler(await ticketPost(token), '203.0.113.10')).status).toBe(200);
    close?.();
    expect((await trickling).status).toBe(200);
  });

  it('maxPending: false never sheds', async () => {
    const gate = gated();
    const handler = ticketHandler(guardOn(gate.store), { maxPending: false, rate: false });
    const token = await sign('carol');
    const many = Array.from({ length: 200 }, async (_, i) =>
      handler(await ticketPost(token), `198.51.100.${(i % 250) + 1}`),
    );
    await until(() => gate.waiting() === 200);
    gate.release();
    expect((await Promise.all(many)).every((r) => r.status === 200)).toBe(true);
  });
});
