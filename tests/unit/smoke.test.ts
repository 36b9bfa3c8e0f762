import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createGuard } from '../../src/mod.ts';

const secret = 'x'.repeat(40);
const token = (sub: string) =>
  new SignJWT({ roles: ['user'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(secret));

describe('smoke', () => {
  it('accepts a valid token from an allowed origin and delivers a message', async () => {
    const guard = createGuard({
      origins: ['https://app.example.com'],
      jwt: { algorithms: ['HS256'], secret },
      tickets: true,
      audit: false,
    });
    const req = new Request('http://localhost/ws', {
      headers: {
        origin: 'https://app.example.com',
        authorization: `Bearer ${await token('alice')}`,
      },
    });
    const d = await guard.upgrade({ request: req, ip: '127.0.0.1' });
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.connection.principal?.sub).toBe('alice');
    const m = await guard.message(d.connection, '{"a":1}');
    expect(m).toEqual({ action: 'deliver', value: { a: 1 } });
    const t = await guard.issueTicket(d.connection.principal!, {
      origin: 'https://app.example.com',
    });
    const r2 = await guard.upgrade({
      request: new Request(`http://localhost/ws?ticket=${t.ticket}`, {
        headers: { origin: 'https://app.example.com' },
      }),
      ip: '127.0.0.1',
    });
    expect(r2.ok).toBe(true);
    const r3 = await guard.upgrade({
      request: new Request(`http://localhost/ws?ticket=${t.ticket}`, {
        headers: { origin: 'https://app.example.com' },
      }),
      ip: '127.0.0.1',
    });
    expect(r3.ok).toBe(false);
    if (!r3.ok) expect(r3.closeCode).toBe(4001);
    await guard.close(d.connection);
    expect(guard.stats().connections).toBe(1);
  });
});
