/**
 * Review of the rate-refusal window (guard.ts `countRateHit`): its ring holds `closeAfterRateHits`
 * numbers per connection, allocated at the connection's first refusal. The doctor accepts any
 * positive integer, so a generous setting ("close only a real flood": 1e7) lets every client
 * allocate 80 MB per socket with one refused frame.
 */
import { describe, expect, it } from 'vitest';
import { createGuard, createMemoryStore, GuardConfigError } from '../../src/mod.ts';
import { attach, ORIGIN, SECRET, sign } from '../unit/fixtures/guards.ts';

describe('rate-refusal ring (review)', () => {
  it('found in review: one refused frame allocates closeAfterRateHits slots (1e7: ~80 MB) per socket', async () => {
    let guard: ReturnType<typeof createGuard>;
    try {
      guard = createGuard({
        origins: [ORIGIN],
        jwt: { algorithms: ['HS256'], secret: SECRET },
        store: createMemoryStore(),
        audit: false,
        onError: () => {},
        limits: {
          connectRate: false,
          messageRate: { limit: 1, windowMs: 60_000, burst: 1 },
          closeAfterRateHits: 10_000_000,
        },
      });
    } catch (error) {
      expect(error).toBeInstanceOf(GuardConfigError); // refused up front: sound
      return;
    }
    const d = await guard.upgrade({
      request: new Request('http://localhost/ws', {
        headers: { origin: ORIGIN, authorization: `Bearer ${await sign('alice')}` },
      }),
      ip: '203.0.113.70',
    });
    if (!d.ok) throw new Error(d.reason);
    attach(guard, d.connection);
    expect(guard.message(d.connection, '{}')).toMatchObject({ action: 'deliver' });
    const before = process.memoryUsage().heapUsed;
    expect(guard.message(d.connection, '{}')).toMatchObject({ action: 'reply' });
    const grown = process.memoryUsage().heapUsed - before;
    await guard.close(d.connection);
    // A refusal must cost the server a bounded, small amount whatever the option says.
    expect(grown).toBeLessThan(1024 * 1024);
  });
});
