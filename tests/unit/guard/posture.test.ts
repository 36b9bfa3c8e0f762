/**
 * `guard.describe()`: the one line a server logs at start. It names what is admitted and bounded,
 * reads differently for a risky configuration, and never contains a secret.
 */
import { describe, expect, it } from 'vitest';
import { createGuard } from '../../../src/mod.ts';

const secret = 'a-test-secret-that-is-long-enough-0123456789';

describe('guard.describe()', () => {
  it('names origins, credential sources, verification, store, limits and TLS', () => {
    const line = createGuard({
      origins: ['https://app.example.com'],
      jwt: { algorithms: ['HS256'], secret },
      tickets: true,
      audit: false,
    }).describe();
    expect(line).toContain('origins https://app.example.com');
    expect(line).toContain('credentials header, ticket');
    expect(line).toContain('verify jwt HS256 + tickets');
    expect(line).toContain('store memory (this instance only)');
    expect(line).toContain('frames ≤ 64 KiB');
    expect(line).toContain('TLS not required');
    expect(line).not.toContain(secret);
  });

  it('says so when limits are off, TLS is required, or it only logs', () => {
    const line = createGuard({
      origins: ['https://app.example.com'],
      jwt: { algorithms: ['HS256'], secret },
      credentials: { firstMessage: { timeoutMs: 1000 } },
      limits: { maxConnectionsPerIp: false, connectRate: false },
      requireSecure: true,
      dryRun: true,
      audit: false,
    }).describe();
    expect(line).toContain('credentials firstMessage');
    expect(line).toContain('connect off, per IP off');
    expect(line).toContain('TLS required');
    expect(line).toContain('DRY RUN');
  });
});
