/**
 * The README's code, from the packed tarball: every snippet of `examples/snippets/` (which the
 * README and the docs include verbatim, `scripts/snippets.mjs` checks that) is type-checked with
 * `--strict` against the installed package, and each server snippet is run on its runtime: it
 * starts and prints its URL and the guard's posture, serves a ticket and echoes over a guarded
 * socket, and refuses a forged token (4001). The tRPC server snippet is driven by the client
 * snippet. The others (Redis, unstorage, every option of `serve`) are type-checked only.
 *
 * Called by `scripts/install-test.mjs` with its helpers, after the Node, Bun and Deno installs.
 */
import { copyFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Every snippet but the Bun and Deno ones is type-checked as a Node project. */
const snippetFiles = (dir) => readdirSync(dir).filter((f) => f.endsWith('.ts'));
const isNode = (f) => !/\.(bun|deno)\.ts$/.test(f);
/**
 * Snippets whose other dependencies ship declarations that fail `skipLibCheck: false` (unstorage's
 * drivers, h3): checked with skipLibCheck on; wsguard's own declarations are checked strictly by the
 * other snippets.
 */
const LOOSE = new Set(['scaling-unstorage.ts', 'integration-h3-server.ts']);
/** What a server snippet prints first: `guarded WebSocket on ws://host:port/ws` (or `tRPC over`). */
const STARTED = /(?:guarded WebSocket on|tRPC over) (ws:\/\/\S+)\/ws\n\s+(origins .*)/;

/**
 * Register the snippet steps. `t` holds the install test's helpers and state: `step`, `skip`,
 * `run`, `start`, `StepError`, `root`, `nodeDir`, `bunDir`, `secret`, `signJwt`, `bun`, `deno`,
 * `denoEnv`, and which installs succeeded (`nodeInstalled`, `bunInstalled`).
 */
export async function snippetSteps(t) {
  const dir = join(t.root, 'examples/snippets');
  const copy = (target, files) => {
    for (const f of files) copyFileSync(join(dir, f), join(target, f));
  };
  // A server snippet, started with a free port, until it prints its URL and posture.
  const startSnippet = async (cmd, args, cwd, env = {}) => {
    const port = String(20_000 + Math.floor(Math.random() * 20_000));
    const server = t.start(cmd, args, {
      cwd,
      env: { JWT_SECRET: t.secret, PORT: port, ...env },
      timeoutMs: 120_000,
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const m = STARTED.exec(server.out);
      if (m) return { server, wsUrl: m[1], posture: m[2] };
      if (Date.now() > deadline) throw new t.StepError('no start-up line within 30 s', server.out);
      const exited = await Promise.race([
        server.done.then(() => true),
        new Promise((r) => setTimeout(() => r(false), 100)),
      ]);
      if (exited) throw new t.StepError('the snippet exited before listening', server.out);
    }
  };
  const stop = (server) => {
    try {
      process.kill(-server.child.pid, 'SIGKILL');
    } catch {}
  };
  // The smoke client (plain JS, run with Node from the Node project, which has `ws`).
  const smoke = async (wsUrl) => {
    const out = await t.run(process.execPath, ['snippet-smoke.mjs'], {
      cwd: t.nodeDir,
      env: {
        WSGUARD_WS_URL: wsUrl,
        GOOD: t.signJwt({ sub: 'alice', roles: ['user'] }),
        FORGED: `${t.signJwt({ sub: 'mallory', roles: ['user'] }).slice(0, -4)}AAAA`,
      },
    });
    if (!out.includes('ok all')) throw new t.StepError('smoke client did not report "ok all"', out);
    return 'ticket served, echo over the guarded socket, forged token closed 4001';
  };

  if (!t.nodeInstalled) {
    t.skip('snippets: tsc --strict and runs', 'Node install failed');
    return;
  }
  copyFileSync(
    join(t.root, 'tests/install/fixtures/snippet-smoke.mjs'),
    join(t.nodeDir, 'snippet-smoke.mjs'),
  );
  // The integrations' examples (the docs include them too), under distinct names.
  const integrations = ['express', 'fastify', 'ws', 'hono', 'elysia', 'h3'].flatMap((name) =>
    snippetFiles(join(t.root, 'examples/integrations', name)).map((f) => ({
      from: join(t.root, 'examples/integrations', name, f),
      to: `integration-${name}-${f}`,
    })),
  );
  // Bun's (Elysia, Hono on Bun) and Deno's examples are checked with their runtime's types.
  const onBun = (f) => /^integration-(elysia-server|hono-server)\.ts$/.test(f);
  const onDeno = (f) => f.endsWith('.deno.ts');
  const nodeSnippets = [
    ...snippetFiles(dir).filter(isNode),
    ...integrations.map((i) => i.to).filter((f) => !onBun(f) && !onDeno(f)),
  ];
  const bunSnippets = ['server.bun.ts', ...integrations.map((i) => i.to).filter(onBun)];
  const denoSnippets = ['server.deno.ts', ...integrations.map((i) => i.to).filter(onDeno)];
  const typed = await t.step('snippets: tsc --strict against the installed package', async () => {
    const snippets = join(t.nodeDir, 'snippets');
    await t.run('mkdir', ['-p', snippets]);
    copy(snippets, [...snippetFiles(dir).filter(isNode), 'server.bun.ts']);
    for (const i of integrations) copyFileSync(i.from, join(snippets, i.to));
    const base = {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2023', 'DOM'],
      strict: true,
      skipLibCheck: false,
      rewriteRelativeImportExtensions: true,
      verbatimModuleSyntax: true,
    };
    writeFileSync(
      join(snippets, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { ...base, types: ['node'], outDir: 'out' },
        files: nodeSnippets.filter((f) => !LOOSE.has(f)),
      }),
    );
    writeFileSync(
      join(snippets, 'tsconfig.loose.json'),
      JSON.stringify({
        compilerOptions: { ...base, types: ['node'], skipLibCheck: true, noEmit: true },
        files: nodeSnippets.filter((f) => LOOSE.has(f)),
      }),
    );
    writeFileSync(
      join(snippets, 'tsconfig.bun.json'),
      // bun-types' own declarations do not pass skipLibCheck: false (they lean on Node's); ours
      // were checked with it just above.
      JSON.stringify({
        compilerOptions: { ...base, types: ['bun'], skipLibCheck: true, noEmit: true },
        files: bunSnippets,
      }),
    );
    const tsc = join(t.nodeDir, 'node_modules/.bin/tsc');
    await t.run(tsc, ['-p', 'tsconfig.json'], { cwd: snippets });
    await t.run(tsc, ['-p', 'tsconfig.loose.json'], { cwd: snippets });
    await t.run(tsc, ['-p', 'tsconfig.bun.json'], { cwd: snippets });
    return `${nodeSnippets.length + bunSnippets.length} snippets (Node and Bun types)`;
  });
  if (!typed) return;
  const snippets = join(t.nodeDir, 'snippets');

  await t.step('snippets: server.node.ts runs (start-up line, ticket, echo, 4001)', async () => {
    const { server, wsUrl, posture } = await startSnippet(
      process.execPath,
      ['out/server.node.js'],
      snippets,
    );
    try {
      return `${await smoke(wsUrl)}; "${posture.slice(0, 60)}…"`;
    } finally {
      stop(server);
    }
  });

  await t.step('snippets: trpc-server.ts + client.ts (typed tRPC round trip)', async () => {
    const { server, wsUrl } = await startSnippet(
      process.execPath,
      ['out/trpc-server.js'],
      snippets,
    );
    try {
      const out = await t.run(process.execPath, ['out/client.js'], {
        cwd: snippets,
        env: {
          APP_URL: wsUrl.replace(/^ws/, 'http'),
          TOKEN: t.signJwt({ sub: 'alice', roles: ['user'] }),
        },
        timeoutMs: 30_000,
      });
      if (!out.includes('alice: hello'))
        throw new t.StepError('the client did not get its message', out);
      return 'subscribe, send, receive "alice: hello", close';
    } finally {
      stop(server);
    }
  });

  if (t.bunInstalled) {
    await t.step('snippets: server.bun.ts runs under Bun', async () => {
      copy(t.bunDir, ['server.bun.ts']);
      const { server, wsUrl } = await startSnippet(t.bun, ['server.bun.ts'], t.bunDir);
      try {
        return await smoke(wsUrl);
      } finally {
        stop(server);
      }
    });
  } else t.skip('snippets: server.bun.ts runs under Bun', 'Bun install failed');

  await t.step('snippets: server.deno.ts (deno check, then runs)', async () => {
    copy(t.nodeDir, ['server.deno.ts']);
    for (const i of integrations) if (onDeno(i.to)) copyFileSync(i.from, join(t.nodeDir, i.to));
    const flags = ['--node-modules-dir=manual'];
    await t.run(t.deno, ['check', '--quiet', ...flags, ...denoSnippets], {
      cwd: t.nodeDir,
      env: t.denoEnv,
      timeoutMs: 90_000,
    });
    const perms = ['--allow-net=127.0.0.1', '--allow-env'];
    const { server, wsUrl } = await startSnippet(
      t.deno,
      ['run', '--quiet', ...flags, ...perms, 'server.deno.ts'],
      t.nodeDir,
      t.denoEnv,
    );
    try {
      return await smoke(wsUrl);
    } finally {
      stop(server);
    }
  });
}
