/**
 * The plain-JSON app of the docs (`examples/snippets/plain-json.ts`), run as it is written (a real
 * process; `wsguard` resolved to this checkout's sources through the snippets' tsconfig): typed
 * messages reach the app and the room, and every bad one is refused by the guard before the app
 * sees it: malformed JSON, a frame failing the schema, an unknown type, a type the user's role does
 * not grant. The connection survives each refusal, and the app never answers one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

const secret = randomBytes(32).toString('hex');
const origin = 'https://app.example.com';
let child: ChildProcess;
let wsUrl: string;

const token = (sub: string, roles: string[]) =>
  new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(secret));

/** A socket and the frames it received, in order. */
async function client(sub: string, roles: string[]) {
  const ws = new WebSocket(wsUrl, {
    origin,
    headers: { authorization: `Bearer ${await token(sub, roles)}` },
  });
  const got: unknown[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (data) => {
    got.push(JSON.parse(String(data)));
    for (const w of waiters.splice(0)) w();
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const next = async (): Promise<unknown> => {
    const deadline = Date.now() + 5000;
    while (got.length === 0) {
      if (Date.now() > deadline) throw new Error('no frame within 5 s');
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
    return got.shift();
  };
  const send = (value: unknown) =>
    ws.send(typeof value === 'string' ? value : JSON.stringify(value));
  return { ws, next, send };
}

beforeAll(async () => {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  child = spawn(process.execPath, ['--import', 'tsx', 'examples/snippets/plain-json.ts'], {
    env: {
      ...process.env,
      JWT_SECRET: secret,
      PORT: String(port),
      TSX_TSCONFIG_PATH: 'examples/snippets/tsconfig.json',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr?.on('data', (d) => {
    out += d;
  });
  wsUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start-up line: ${out}`)), 30_000);
    child.stdout?.on('data', (d) => {
      out += d;
      const m = /guarded WebSocket on (ws:\/\/\S+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
}, 40_000);

afterAll(() => {
  child?.kill('SIGKILL');
});

describe('the plain-JSON app (no tRPC)', () => {
  it('delivers typed messages to the room', async () => {
    const alice = await client('alice', ['user']);
    const bob = await client('bob', ['user']);
    for (const c of [alice, bob]) {
      c.send({ type: 'chat.join', room: 'lobby' });
      expect(await c.next()).toEqual({ type: 'joined', room: 'lobby' });
    }
    alice.send({ type: 'chat.send', room: 'lobby', text: '  hi  ' });
    const expected = { type: 'message', room: 'lobby', user: 'alice', text: 'hi' };
    expect(await alice.next()).toEqual(expected);
    expect(await bob.next()).toEqual(expected);
    alice.ws.close();
    bob.ws.close();
  });

  it('refuses malformed, invalid, unknown and forbidden messages before the app, and stays open', async () => {
    const mallory = await client('mallory', ['user']);
    const refusals: [unknown, string][] = [
      ['{"type":"chat.send",', 'BAD_REQUEST'], // malformed JSON
      [{ type: 'chat.send', room: 'lobby' }, 'BAD_REQUEST'], // no text
      [{ type: 'chat.send', room: 'Not A Room!', text: 'x' }, 'BAD_REQUEST'], // schema
      [{ type: 'system.shutdown' }, 'BAD_REQUEST'], // unknown type
      [{ type: 'admin.kick', userId: 'alice' }, 'FORBIDDEN'], // not granted to role user
    ];
    for (const [frame, code] of refusals) {
      mallory.send(frame);
      const reply = (await mallory.next()) as { error?: { code: string }; type?: string };
      expect(reply.type, `the app answered ${JSON.stringify(frame)}`).toBeUndefined();
      expect(reply.error?.code).toBe(code);
    }
    expect(mallory.ws.readyState).toBe(WebSocket.OPEN);
    // An admin holds admin.kick.
    const admin = await client('root', ['admin']);
    admin.send({ type: 'admin.kick', userId: 'mallory' });
    expect(await admin.next()).toEqual({ type: 'kicked', closed: 1 });
    admin.ws.close();
  });
});
