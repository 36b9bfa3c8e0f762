import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('no per-connection leak', () => {
  it('10,000 connect/subscribe/close cycles leave no connection, session or state object behind', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', 'tests/trpc/fixtures/leak-cycles.ts', '10000'],
      { timeout: 110_000, maxBuffer: 1 << 20 },
    );
    const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, number>;
    expect(r['tracked']).toBe(10_000);
    expect(r['connections']).toBe(0);
    expect(r['users']).toBe(0);
    expect(r['sessions']).toBe(0);
    // Every connection's state object was reclaimed, bar a few still referenced by the last
    // turn of the event loop.
    expect(r['collected']).toBeGreaterThanOrEqual(9_990);
  }, 120_000);
});
