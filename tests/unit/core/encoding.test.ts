/**
 * `sha256Hex` hashes synchronously through `node:crypto` where the runtime has it (one-shot
 * `crypto.hash` when present) and through Web Crypto elsewhere: ticket keys must be identical
 * whichever path a process takes, or a ticket issued by one instance could not be redeemed by
 * another. Checked here on Node, and on Bun and Deno by running the same comparison there.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256Hex, sha256HexSync, sha256HexWeb } from '../../../src/core/encoding.ts';
import { syncCrypto } from '../../../src/core/sync-crypto.ts';
import { SAMPLES } from '../fixtures/sha256-samples.ts';

const root = join(import.meta.dirname, '../../..');
const script = join(import.meta.dirname, '../fixtures/sha256-parity.ts');

describe('sha256Hex', () => {
  it('equals the Web Crypto digest on Node, through the synchronous one-shot path', async () => {
    expect(syncCrypto, 'Node ≥ 20.16 has process.getBuiltinModule').toBeDefined();
    expect(typeof syncCrypto?.hash, 'Node ≥ 20.12 has crypto.hash').toBe('function');
    for (const s of SAMPLES) {
      expect(await sha256Hex(s), JSON.stringify(s)).toBe(await sha256HexWeb(s));
      // The ticket key takes the synchronous form directly.
      expect(sha256HexSync(s), JSON.stringify(s)).toBe(await sha256HexWeb(s));
    }
    expect(await sha256Hex('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  for (const [runtime, args] of [
    ['bun', ['run', script]],
    ['deno', ['run', '-A', '--quiet', script]],
  ] as const) {
    const bin = join(root, 'node_modules/.bin', runtime);
    // bun and deno are dev dependencies: a missing binary is a broken install, so it fails here.
    it(`equals the Web Crypto digest on ${runtime}`, () => {
      expect(existsSync(bin), `${bin} (npm install provides it)`).toBe(true);
      const r = spawnSync(bin, args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
        results: boolean[];
        sync: boolean;
      };
      expect(out.sync).toBe(true);
      expect(out.results).toEqual(SAMPLES.map(() => true));
    });
  }
});
