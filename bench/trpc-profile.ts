/**
 * Profile one bench server under load: `npx tsx bench/trpc-profile.ts guarded|trpc mut|sub`.
 * Starts `bench/trpc-server.ts` with `--cpu-prof` (profiles land in `$PROF_DIR/<mode>-<kind>/`,
 * default `<tmpdir>/wsguard-prof/`), drives it for 6 s (mut: 50 connections × 2 mutations in
 * flight; sub: one subscriber reading 100,000-event bursts back to back), prints the rate and
 * stops the server with SIGTERM so the profile is written. `SERVER_JS=<file.mjs>` runs a bundled
 * server (as `bench/trpc.bench.ts` builds it) instead of the sources through tsx, so that line
 * numbers in the profile mean something and tsx's helpers are not in it.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import WebSocket from 'ws';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const mode = process.argv[2] === 'trpc' ? 'trpc' : 'guarded';
const kind = process.argv[3] === 'sub' ? 'sub' : 'mut';
const entry = process.env.SERVER_JS
  ? [process.env.SERVER_JS]
  : ['--import', 'tsx', 'bench/trpc-server.ts'];
const child = spawn(
  process.execPath,
  [
    '--cpu-prof',
    `--cpu-prof-dir=${join(process.env.PROF_DIR ?? join(tmpdir(), 'wsguard-prof'), `${mode}-${kind}`)}`,
    ...entry,
    mode,
  ],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
);
try {
  const line = await new Promise<string>((ok, fail) => {
    child.stdout?.once('data', (d) => ok(String(d)));
    child.once('exit', (code) => fail(new Error(`server exited (${code})`)));
  });
  const info = JSON.parse(line) as { url: string; secret: string; mode: string };
  const token = await new SignJWT({ roles: ['bench'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('bench')
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(info.secret));
  const headers: Record<string, string> =
    info.mode === 'guarded' ? { authorization: `Bearer ${token}` } : {};
  const url = info.url.replace(/^http/, 'ws');
  const sockets = await Promise.all(
    Array.from(
      { length: kind === 'mut' ? 50 : 1 },
      (_, i) =>
        new Promise<WebSocket>((ok, fail) => {
          const ws = new WebSocket(url, {
            headers,
            perMessageDeflate: false,
            localAddress: `127.9.0.${i + 1}`,
          });
          ws.once('open', () => ok(ws));
          ws.once('error', fail);
        }),
    ),
  );
  const end = performance.now() + 6000;
  let frames = 0;
  let id = 0;
  const mutation = () =>
    `{"id":${++id},"method":"mutation","params":{"path":"add","input":{"a":1,"b":2}}}`;
  const burst = () =>
    `{"id":${++id},"method":"subscription","params":{"path":"burst","input":{"n":100000}}}`;
  for (const ws of sockets) {
    ws.on('message', (d: Buffer) => {
      frames++;
      if (performance.now() >= end) return;
      if (kind === 'mut') ws.send(mutation());
      else if (d.includes('"stopped"')) ws.send(burst());
    });
    if (kind === 'mut') for (let i = 0; i < 2; i++) ws.send(mutation());
    else ws.send(burst());
  }
  await new Promise((r) => setTimeout(r, 6500));
  console.log(`${mode} ${kind}: ${(frames / 6).toFixed(0)} frames/s`);
  for (const ws of sockets) ws.terminate();
} finally {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}
