/**
 * The routes of the Fastify plugin where Fastify itself is in play: the ticket endpoint takes its
 * body unparsed, so the guard bounds it itself (413 over 1 KiB) and a
 * content type Fastify has no parser for is not refused with 415 before the guard looks; a JSON
 * body gets its ticket. Real Fastify server on loopback.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeServerOptions, wsguardFastify } from '../../adapters/fastify.ts';
import { createGuard } from '../../src/mod.ts';

const secret = 'fastify-routes-test-secret-0123456789abcdef';
const origin = 'https://app.example.test';
const apps: FastifyInstance[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

const token = () =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('u1')
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(secret));

async function start(): Promise<string> {
  const guard = createGuard({
    origins: [origin],
    jwt: { algorithms: ['HS256'], secret },
    tickets: true,
    audit: false,
  });
  const app = Fastify({ http: nodeServerOptions(), forceCloseConnections: true });
  apps.push(app);
  await app.register(wsguardFastify, { guard });
  return app.listen({ port: 0, host: '127.0.0.1' });
}

const post = async (base: string, body: string, contentType: string) =>
  fetch(`${base}/ws/ticket`, {
    method: 'POST',
    headers: { origin, authorization: `Bearer ${await token()}`, 'content-type': contentType },
    body,
    signal: AbortSignal.timeout(5000),
  });

describe('wsguardFastify routes', () => {
  it('issues a ticket for a JSON body', async () => {
    const res = await post(await start(), '{}', 'application/json');
    expect(res.status).toBe(200);
    expect(await res.json()).toHaveProperty('ticket');
  });

  it('refuses a ticket body over the guard bound (1 KiB) with 413', async () => {
    const res = await post(
      await start(),
      JSON.stringify({ pad: 'x'.repeat(2048) }),
      'application/json',
    );
    expect(res.status).toBe(413);
  });

  it('lets the guard answer a content type Fastify has no parser for', async () => {
    const res = await post(await start(), '', 'application/x-unknown');
    expect(res.status).toBe(200);
  });
});
