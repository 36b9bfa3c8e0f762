/**
 * The README's code, from the packed tarball: every snippet of `examples/snippets/` (which the
 * README and the docs include verbatim, `scripts/snippets.mjs` checks that) is type-checked with
 * `--strict` against the installed package, and each server snippet is run on its runtime: it
 * starts and prints its URL and the guard's posture, serves a ticket and echoes over a guarded
 * socket, and refuses a forged token (4001). The tRPC server snippet is driven by the client
 * snippet. The others (Redis, unstorage, every option of `serve`) are type-checked only.
 *
 * The integrations' examples (`examples/integrations/`, shown in docs/integrations/) are checked the
 * same way and each runs on the runtime it is written for, with the frameworks the Node project
 * installed (`RUNS`): start-up line, ticket, echo, forged token refused, then SIGTERM → exit 0.
 *
 * Called by `scripts/install-test.mjs` with its helpers, after the Node, Bun and Deno installs.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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

/** What each integration example answers the smoke client's `{"hi":1}` with (its own shape). */
const FROM_ALICE = { from: 'alice', value: { hi: 1 } };
const ECHO = { echo: { hi: 1 } };
/**
 * The integration examples that run: `examples/integrations/<dir>/<file>`, the runtime it is
 * written for, the framework whose installed version the step names, and its echo.
 */
const RUNS = [
  { dir: 'express', file: 'server.ts', runtime: 'node', framework: 'express', echo: FROM_ALICE },
  { dir: 'fastify', file: 'server.ts', runtime: 'node', framework: 'fastify', echo: FROM_ALICE },
  { dir: 'ws', file: 'server.ts', runtime: 'node', framework: 'ws', echo: FROM_ALICE },
  { dir: 'hono', file: 'server.node.ts', runtime: 'node', framework: 'hono', echo: ECHO },
  { dir: 'h3', file: 'server.ts', runtime: 'node', framework: 'h3', echo: FROM_ALICE },
  { dir: 'hono', file: 'server.ts', runtime: 'bun', framework: 'hono', echo: FROM_ALICE },
  { dir: 'elysia', file: 'server.ts', runtime: 'bun', framework: 'elysia', echo: FROM_ALICE },
  { dir: 'hono', file: 'server.deno.ts', runtime: 'deno', framework: 'hono', echo: ECHO },
];
/** Examples that are only type-checked, and why: a new example must be in one list or the other. */
const TYPED_ONLY = {
  'ws/before.ts': 'the unguarded app of docs/migrating-from-ws.md: no guard to smoke',
};
/** The name an integration example has among the snippets (distinct across frameworks). */
const snippetName = (dir, file) => `integration-${dir}-${file}`;

/** A server snippet, started with a free port, until it prints its URL and posture. */
async function startSnippet(t, cmd, args, cwd, env = {}) {
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
}
/** Kill a server snippet's process group, whatever state it is in. */
function stop(server) {
  try {
    process.kill(-server.child.pid, 'SIGKILL');
  } catch {}
}
/** SIGTERM to the server alone (as an orchestrator sends it): its own handler must end it, 0. */
async function gracefulStop(t, server) {
  server.child.kill('SIGTERM');
  const r = await Promise.race([
    server.done,
    new Promise((r2) => setTimeout(() => r2({ code: 'none within 10 s' }), 10_000).unref()),
  ]);
  if (r.code !== 0) throw new t.StepError(`SIGTERM: exit ${r.code}`, server.out);
}
/** The smoke client (plain JS, run with Node from the Node project, which has `ws`). */
async function smoke(t, wsUrl, echo = ECHO) {
  const out = await t.run(process.execPath, ['snippet-smoke.mjs'], {
    cwd: t.nodeDir,
    env: {
      WSGUARD_WS_URL: wsUrl,
      WSGUARD_ECHO: JSON.stringify(echo),
      GOOD: t.signJwt({ sub: 'alice', roles: ['user'] }),
      FORGED: `${t.signJwt({ sub: 'mallory', roles: ['user'] }).slice(0, -4)}AAAA`,
    },
  });
  if (!out.includes('ok all')) throw new t.StepError('smoke client did not report "ok all"', out);
  const refused = /ok forged token refused \((\d+)\)/.exec(out)?.[1];
  return `ticket served, echo over the guarded socket, forged token refused ${refused}`;
}

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
  if (!t.nodeInstalled) {
    t.skip('snippets: tsc --strict and runs', 'Node install failed');
    return;
  }
  copyFileSync(
    join(t.root, 'tests/install/fixtures/snippet-smoke.mjs'),
    join(t.nodeDir, 'snippet-smoke.mjs'),
  );
  const integrations = integrationExamples(t.root);
  // Bun's (Elysia, Hono on Bun) and Deno's examples are checked with their runtime's types.
  const onBun = (f) => RUNS.some((r) => r.runtime === 'bun' && snippetName(r.dir, r.file) === f);
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
    writeTsconfigs(snippets, nodeSnippets, bunSnippets);
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
      t,
      process.execPath,
      ['out/server.node.js'],
      snippets,
    );
    try {
      return `${await smoke(t, wsUrl)}; "${posture.slice(0, 60)}…"`;
    } finally {
      stop(server);
    }
  });

  await t.step('snippets: trpc-server.ts + client.ts (typed tRPC round trip)', () =>
    trpcRoundTrip(t, snippets),
  );

  if (t.bunInstalled) {
    await t.step('snippets: server.bun.ts runs under Bun', async () => {
      copy(t.bunDir, ['server.bun.ts']);
      const { server, wsUrl } = await startSnippet(t, t.bun, ['server.bun.ts'], t.bunDir);
      try {
        return await smoke(t, wsUrl);
      } finally {
        stop(server);
      }
    });
  } else t.skip('snippets: server.bun.ts runs under Bun', 'Bun install failed');

  copy(t.nodeDir, ['server.deno.ts']);
  for (const i of integrations) if (onDeno(i.to)) copyFileSync(i.from, join(t.nodeDir, i.to));
  await t.step('snippets: server.deno.ts (deno check, then runs)', () =>
    denoSnippet(t, denoSnippets),
  );

  await integrationSteps(t, integrations, snippets);
}

/** How an integration example is started on its runtime, from the Node project. */
function launcher(t, run, snippets) {
  const file = snippetName(run.dir, run.file);
  // The snippets' type-check compiled the Node examples to `out/`.
  if (run.runtime === 'node')
    return { cmd: process.execPath, args: [`out/${file.replace(/\.ts$/, '.js')}`], cwd: snippets };
  // Bun runs TypeScript as is and resolves the frameworks from the Node project's node_modules.
  if (run.runtime === 'bun') return { cmd: t.bun, args: [file], cwd: snippets };
  // Deno: copied into the Node project with `server.deno.ts` (and `deno check`ed with it); bare
  // specifiers resolve from that node_modules.
  const flags = ['--quiet', '--node-modules-dir=manual', '--allow-net=127.0.0.1', '--allow-env'];
  return { cmd: t.deno, args: ['run', ...flags, file], cwd: t.nodeDir, env: t.denoEnv };
}

/** `<package> <installed version>`, and package-lock.json's when the registry gave another one. */
function versionOf(t, lock, pkg) {
  const json = readFileSync(join(t.nodeDir, 'node_modules', pkg, 'package.json'), 'utf8');
  const { version } = JSON.parse(json);
  const locked = lock[`node_modules/${pkg}`]?.version;
  return locked && locked !== version ? `${pkg} ${version} (lock: ${locked})` : `${pkg} ${version}`;
}

/**
 * Every integration example on its runtime (`RUNS`): start-up line, the smoke client, then SIGTERM
 * → exit 0. An example in neither `RUNS` nor `TYPED_ONLY` fails; a runtime whose binary is missing
 * is skipped, saying so (the install steps before would have failed for it already).
 */
async function integrationSteps(t, integrations, snippets) {
  const covered = new Set([...RUNS.map((r) => `${r.dir}/${r.file}`), ...Object.keys(TYPED_ONLY)]);
  const stray = integrations.map((i) => i.example).filter((e) => !covered.has(e));
  if (stray.length > 0)
    t.skip('integrations: every example runs', `neither in RUNS nor TYPED_ONLY: ${stray}`);
  for (const [example, why] of Object.entries(TYPED_ONLY))
    console.log(`SKIP integrations: ${example} is type-checked only: ${why}`);
  const lock = JSON.parse(readFileSync(join(t.root, 'package-lock.json'), 'utf8')).packages;
  const runtimes = { node: 'Node', bun: 'Bun', deno: 'Deno' };
  for (const run of RUNS) {
    const name = `integrations: ${run.dir}/${run.file} on ${runtimes[run.runtime]}`;
    const launch = launcher(t, run, snippets);
    if (!existsSync(launch.cmd)) {
      console.log(`SKIP ${name}: ${launch.cmd} is missing`);
      continue;
    }
    await t.step(name, async () => {
      const { cmd, args, cwd, env } = launch;
      const { server, wsUrl } = await startSnippet(t, cmd, args, cwd, env);
      try {
        const smoked = await smoke(t, wsUrl, run.echo);
        await gracefulStop(t, server);
        return `${versionOf(t, lock, run.framework)}; ${smoked}; SIGTERM → exit 0`;
      } finally {
        stop(server);
      }
    });
  }
}

/**
 * The snippets' three projects: Node (emitted to `out/`, which the runs start), the loose one
 * (`LOOSE`, emitted too) and Bun's (types only).
 */
function writeTsconfigs(snippets, nodeSnippets, bunSnippets) {
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
      // Emitted too: the h3 example runs from `out/` like the others.
      compilerOptions: { ...base, types: ['node'], skipLibCheck: true, outDir: 'out' },
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
}

/** The tRPC server snippet, driven by the client snippet: subscribe, send, receive, close. */
async function trpcRoundTrip(t, snippets) {
  const { server, wsUrl } = await startSnippet(
    t,
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
}

/** Every integration example (the docs include them too), under a distinct snippet name. */
function integrationExamples(root) {
  const dir = join(root, 'examples/integrations');
  return readdirSync(dir).flatMap((name) =>
    snippetFiles(join(dir, name)).map((f) => ({
      example: `${name}/${f}`,
      from: join(dir, name, f),
      to: snippetName(name, f),
    })),
  );
}

/** `deno check` of Deno's snippets (copied into the Node project), then `server.deno.ts` runs. */
async function denoSnippet(t, denoSnippets) {
  const flags = ['--node-modules-dir=manual'];
  await t.run(t.deno, ['check', '--quiet', ...flags, ...denoSnippets], {
    cwd: t.nodeDir,
    env: t.denoEnv,
    timeoutMs: 90_000,
  });
  const perms = ['--allow-net=127.0.0.1', '--allow-env'];
  const { server, wsUrl } = await startSnippet(
    t,
    t.deno,
    ['run', '--quiet', ...flags, ...perms, 'server.deno.ts'],
    t.nodeDir,
    t.denoEnv,
  );
  try {
    return await smoke(t, wsUrl);
  } finally {
    stop(server);
  }
}
