/**
 * Deno keeps, for ever, a request it answered with `Deno.upgradeWebSocket` when the client reset
 * the connection before the 101 went out; a plain response in the same place is freed. No
 * wsguard involved: `deno-upgrade-leak-server.ts` is `Deno.serve` alone. This is what the soak
 * sees on Deno for its `reset-mid-handshake` clients (docs/soak.md).
 *
 * `npx tsx bench/soak/deno-upgrade-leak.ts [count] [wait seconds]` (defaults 400, 35: past Deno's
 * 30 s idle timeout). Prints, for both modes, the requests still reachable after a forced GC.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const count = Number(process.argv[2] ?? 400);
const waitS = Number(process.argv[3] ?? 35);

interface Mem {
  readonly requests: number;
  readonly retained: number;
  readonly heap: number;
  readonly rss: number;
}

async function run(mode: 'upgrade' | 'plain'): Promise<string> {
  const child = spawn(
    join(root, 'node_modules/.bin/deno'),
    [
      'run',
      '-A',
      '--quiet',
      '--v8-flags=--expose-gc',
      join(root, 'bench/soak/deno-upgrade-leak-server.ts'),
      mode,
      '10',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const port = await new Promise<number>((ok, fail) => {
      const t = setTimeout(() => fail(new Error('deno did not start')), 30_000);
      child.stdout?.once('data', (d) => {
        clearTimeout(t);
        ok((JSON.parse(String(d)) as { port: number }).port);
      });
    });
    const mem = async (): Promise<Mem> =>
      (
        await fetch(`http://127.0.0.1:${port}/mem`, { signal: AbortSignal.timeout(10_000) })
      ).json() as Promise<Mem>;
    const before = await mem();
    for (let i = 0; i < count; i++) {
      // A handshake, then a TCP reset 3 ms later: inside the server's 10 ms wait.
      await new Promise<void>((ok) => {
        const s = connect({
          host: '127.0.0.1',
          port,
          localAddress: `127.60.${i >> 8}.${i & 255 || 1}`,
        });
        s.on('error', () => {});
        s.once('connect', () => {
          s.write(
            `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
              `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
          );
          setTimeout(() => {
            s.resetAndDestroy();
            ok();
          }, 3);
        });
      });
    }
    await new Promise((r) => setTimeout(r, waitS * 1000));
    const after = await mem();
    return (
      `${mode.padEnd(7)} ${after.retained} of ${after.requests} requests reachable after ${waitS} s; ` +
      `heap +${((after.heap - before.heap) / 1024).toFixed(0)} KiB, RSS +${((after.rss - before.rss) / 2 ** 20).toFixed(1)} MiB`
    );
  } finally {
    child.kill('SIGKILL');
  }
}

const version = await new Promise<string>((ok) => {
  const c = spawn(join(root, 'node_modules/.bin/deno'), ['--version'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  c.stdout?.on('data', (d) => {
    out += String(d);
  });
  c.once('exit', () => ok(out.split('\n')[0] ?? 'deno'));
});
console.log(version);
const [upgrade, plain] = await Promise.all([run('upgrade'), run('plain')]);
console.log(upgrade);
console.log(plain);
