#!/usr/bin/env node
/**
 * The install test: what users get from `npm install wsguard`, `bun add wsguard` and Deno, proved
 * from the packed tarball in fresh temp projects, never from the repo's sources.
 *
 *   pack   `npm run build`, `npm pack`; the tarball holds exactly dist/*, README.md, LICENSE,
 *          CHANGELOG.md, SECURITY.md and package.json, every file `exports`/`bin` name, and every package the
 *          built code imports is a dependency or peer (no Node built-in behind `wsguard/client`).
 *   node   `npm install <tarball> @trpc/server @trpc/client ws` in a fresh project; `tsc` over the
 *          fixtures (tests/install/fixtures) against the installed `.d.mts` of every subpath
 *          (skipLibCheck off), then the guarded tRPC server (`wsguard/adapters/node`) and the
 *          client (`wsguard/client`): answers with a valid token and with a ticket, 403 for a
 *          foreign origin, 4001 for a bad token.
 *   cli    `npm install <tarball>` alone (the README line), then `npx wsguard audit` against the
 *          Node server: exits 0 (no high finding); then `wsguard init` into a folder, `tsc
 *          --strict` over the scaffold, the scaffold run and audited (with its ticket URL): exit 0.
 *   bun    `bun add <tarball> @trpc/server @trpc/client` in another project; the same app and
 *          client under Bun with `wsguard/adapters/bun`.
 *   deno   Twice, the same app and client with `wsguard/adapters/deno`, after `deno check`:
 *          (1) through the npm tarball: the Node project's node_modules (installed from the
 *          tarball), `deno run --node-modules-dir=manual`, bare `wsguard/...` specifiers resolved
 *          from it; (2) through the JSR package from source: a deno.json `links` to the repo and
 *          `jsr:@wsguard/wsguard@^<version>` imports, i.e. what `deno publish` uploads (JSR itself
 *          is not reachable from CI, so `deno add` cannot run).
 *
 *   snippets  The README's code (examples/snippets, see scripts/install-snippets.mjs): `tsc --strict`
 *          against the installed package, then each server snippet on its runtime (start-up
 *          line, ticket, echo, forged token 4001) and the tRPC server with the client snippet;
 *          each integration example (examples/integrations) runs the same smoke on its runtime.
 *
 * Every install is checked to hold this build (dist/mod.mjs byte-equal), not a cached tarball.
 *
 * One PASS/FAIL line per step, exit 1 if any failed. Loopback only; temp dirs removed and every
 * child process group killed on any exit; the whole run is bounded (DEADLINE_MS).
 *
 * Usage: node scripts/install-test.mjs [--keep] (keep the temp dir for inspection). The packages
 * beside wsguard are installed at the versions of package-lock.json; `WSGUARD_INSTALL_LATEST=1`
 * installs the latest instead.
 */
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { snippetSteps } from './install-snippets.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURES = join(ROOT, 'tests/install/fixtures');
const BUN = join(ROOT, 'node_modules/.bin/bun');
const DENO = join(ROOT, 'node_modules/.bin/deno');
const DEADLINE_MS = 330_000;
const ORIGIN = 'https://app.example.test'; // tests/install/fixtures/app.ts
const KEEP = process.argv.includes('--keep');
const started = Date.now();
const tmp = mkdtempSync(join(tmpdir(), 'wsguard-install-'));
const secret = randomBytes(32).toString('hex');
const seconds = () => ((Date.now() - started) / 1000).toFixed(1);

// ---------------------------------------------------------------------------------------------
// Child processes: each in its own process group, killed (group and all) on any exit.

const children = new Set();
function killAll() {
  for (const child of children) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
}
let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  killAll();
  if (KEEP) console.log(`kept ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'])
  process.once(signal, () => {
    console.log(`FAIL install test: interrupted by ${signal}`);
    cleanup();
    process.exit(130);
  });
setTimeout(() => {
  console.log(`FAIL install test: not done within ${DEADLINE_MS / 1000} s (deadline)`);
  cleanup();
  process.exit(1);
}, DEADLINE_MS).unref();

// Child environments without what an enclosing `npm run` says about the repo (its package, its
// directory), which would point npm at the repo instead of the temp project. The rest of npm's
// configuration (registry, cache, CA) is kept.
const baseEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) =>
      !/^npm_(package|lifecycle)_/i.test(k) &&
      !['npm_config_local_prefix', 'npm_command', 'INIT_CWD'].includes(k),
  ),
);

/** Start a command; `done` resolves with its exit and output, whatever happens. */
function start(cmd, args, { cwd = ROOT, env = {}, timeoutMs = 60_000 } = {}) {
  const child = spawn(cmd, args, {
    cwd,
    env: { ...baseEnv, NO_COLOR: '1', ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
  }, timeoutMs);
  const done = new Promise((resolveDone) => {
    const finish = (code, error) => {
      clearTimeout(timer);
      children.delete(child);
      // The group too: a server a command left behind.
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
      resolveDone({ code, out: error ? `${out}\n${error.message}` : out, timedOut });
    };
    child.on('error', (error) => finish(-1, error));
    child.on('close', (code, signal) => finish(code ?? (signal ? 128 : -1)));
  });
  return {
    child,
    done,
    get out() {
      return out;
    },
  };
}

class StepError extends Error {
  constructor(message, output = '') {
    super(message);
    this.output = output;
  }
}

/** Run a command to completion; throw with its output unless it exits 0. */
async function run(cmd, args, options = {}) {
  const r = await start(cmd, args, options).done;
  const what = `${[cmd.replace(`${ROOT}/`, ''), ...args].join(' ').slice(0, 160)}`;
  if (r.timedOut) throw new StepError(`${what}: timed out`, r.out);
  if (r.code !== 0) throw new StepError(`${what}: exit ${r.code}`, r.out);
  return r.out;
}

/** Start a fixture server and wait for its `{"url": ...}` line. */
async function startServer(cmd, args, options) {
  const server = start(cmd, args, { timeoutMs: 120_000, ...options });
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(
      () => reject(new StepError('server: no URL within 30 s', server.out)),
      30_000,
    );
    const check = () => {
      const match = server.out.match(/\{"url":"([^"]+)"\}/);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    };
    server.child.stdout.on('data', check);
    server.done.then((r) => {
      clearTimeout(timer);
      reject(new StepError(`server exited (${r.code}) before listening`, r.out));
    });
  });
  return {
    url,
    out: () => server.out,
    /** Kill it (and its group) if it still runs. */
    kill() {
      try {
        process.kill(-server.child.pid, 'SIGKILL');
      } catch {}
    },
    /** SIGTERM: the fixture closes gracefully and exits 0. */
    async stop() {
      try {
        server.child.kill('SIGTERM');
      } catch {}
      const r = await Promise.race([
        server.done,
        new Promise((r2) =>
          setTimeout(() => r2({ code: 'none (killed after 10 s)' }), 10_000).unref(),
        ),
      ]);
      if (r.code !== 0) throw new StepError(`server: graceful stop exited ${r.code}`, server.out);
    },
  };
}

/** Run the fixture client against `url`; it prints `ok …` lines and exits 0. */
async function runClient(cmd, args, cwd, url) {
  const out = await run(cmd, args, { cwd, env: { WSGUARD_URL: url, JWT_SECRET: secret } });
  if (!out.includes('ok all')) throw new StepError('client did not report "ok all"', out);
  return out.split('\n').filter((l) => l.startsWith('ok ') && l !== 'ok all').length;
}

const results = [];
async function step(name, fn) {
  const t0 = Date.now();
  try {
    const detail = await fn();
    const s = ((Date.now() - t0) / 1000).toFixed(1);
    console.log(`PASS ${name} (${s} s)${detail ? `: ${detail}` : ''}`);
    results.push(true);
    return true;
  } catch (error) {
    console.log(`FAIL ${name}: ${error instanceof Error ? error.message : String(error)}`);
    const output = error instanceof StepError ? error.output.trim() : '';
    if (output)
      console.log(
        output
          .split('\n')
          .slice(-40)
          .map((l) => `  | ${l}`)
          .join('\n'),
      );
    results.push(false);
    return false;
  }
}
function skip(name, why) {
  console.log(`FAIL ${name}: skipped, ${why}`);
  results.push(false);
}

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

/**
 * `pkg@<version>` at the version this repository's package-lock.json holds (what the suites ran
 * against), so a framework's new release cannot turn CI red without a change here;
 * `WSGUARD_INSTALL_LATEST=1` installs the registry's latest instead, as a new user would get.
 * A package the lock file does not hold is installed unpinned.
 */
const LOCKED = readJson(join(ROOT, 'package-lock.json')).packages;
const LATEST = process.env.WSGUARD_INSTALL_LATEST === '1';
const pinned = (name) => {
  const version = LOCKED[`node_modules/${name}`]?.version;
  return LATEST || version === undefined ? name : `${name}@${version}`;
};
function copyFixtures(dir, files) {
  for (const f of files) copyFileSync(join(FIXTURES, f), join(dir, f));
}
/** Throw unless the package installed under `dir` is the build just packed. */
function assertThisBuild(dir) {
  const installed = readFileSync(join(dir, 'node_modules/wsguard/dist/mod.mjs'));
  if (!installed.equals(readFileSync(join(ROOT, 'dist/mod.mjs'))))
    throw new StepError(`${dir}: node_modules/wsguard is not the build just packed`);
}
/** Packages and bytes under a node_modules directory. */
function installFootprint(dir) {
  let bytes = 0;
  let packages = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        bytes += statSync(p).size;
        if (
          e.name === 'package.json' &&
          basename(dirname(dirname(p))).match(/^(node_modules|@[^/]+)$/)
        )
          packages++;
      }
    }
  };
  walk(dir);
  return `${packages} packages, ${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
/** An HS256 JWT for the CLI's authenticated probes. */
function signJwt(claims) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const data = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iat: now, exp: now + 600, ...claims })}`;
  return `${data}.${createHmac('sha256', secret).update(data).digest('base64url')}`;
}

// ---------------------------------------------------------------------------------------------
// pack

const pkg = readJson(join(ROOT, 'package.json'));
let tarball;

let packedFiles = [];
const packed = await step('pack: build, npm pack, tarball contents', async () => {
  await run('npm', ['run', 'build'], { timeoutMs: 90_000 });
  // prepack would build again: the build just ran.
  const json = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp]);
  const [info] = JSON.parse(json.slice(json.indexOf('[')));
  tarball = join(tmp, info.filename);
  const files = info.files.map((f) => f.path).sort();

  const TOP = new Set(['README.md', 'LICENSE', 'CHANGELOG.md', 'SECURITY.md', 'package.json']);
  const stray = files.filter((f) => !TOP.has(f) && !f.startsWith('dist/'));
  if (stray.length > 0) throw new StepError(`tarball holds files it must not: ${stray.join(', ')}`);
  const wanted = new Set(TOP);
  const collect = (v) => {
    if (typeof v === 'string') wanted.add(v.replace(/^\.\//, ''));
    else if (v && typeof v === 'object') for (const x of Object.values(v)) collect(x);
  };
  collect(pkg.exports);
  collect(pkg.bin);
  const missing = [...wanted].filter((f) => !files.includes(f));
  if (missing.length > 0) throw new StepError(`tarball lacks: ${missing.join(', ')}`);
  packedFiles = files;
  return `${info.filename}, ${files.length} files, ${(info.size / 1024).toFixed(1)} KiB`;
});

if (packed)
  await step('pack: dependency closure, no Node built-in behind wsguard/client', async () => {
    const files = packedFiles;
    // Every package the built code imports must be installed with it.
    // Its own name too: a self-reference resolves through its own `exports` (and the CLI's
    // `init` templates are code that imports wsguard, as the scaffolded project will).
    const declared = new Set([
      pkg.name,
      ...Object.keys(pkg.dependencies ?? {}),
      ...Object.keys(pkg.peerDependencies ?? {}),
    ]);
    const importsOf = (file) => {
      const code = readFileSync(join(ROOT, file), 'utf8');
      // Only real import statements at the start of a line (the docs in comments are ` * import …`).
      const specs = [];
      for (const m of code.matchAll(
        /^(?:import|export)\b[^'"]*?\bfrom\s*["']([^"']+)["']|^import\s*["']([^"']+)["']/gm,
      ))
        specs.push(m[1] ?? m[2]);
      for (const m of code.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) specs.push(m[1]);
      return specs;
    };
    const pkgName = (s) =>
      s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0];
    const undeclared = new Set();
    for (const file of files.filter((f) => f.endsWith('.mjs')))
      for (const spec of importsOf(file))
        if (!spec.startsWith('.') && !spec.startsWith('node:') && !declared.has(pkgName(spec)))
          undeclared.add(`${pkgName(spec)} (imported by ${file})`);
    if (undeclared.size > 0)
      throw new StepError(
        `imported at run time but not in dependencies/peerDependencies: ${[...undeclared].join(', ')}`,
      );

    // The browser entry's whole module graph: no Node built-ins.
    const seen = new Set();
    const walk = (file) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const spec of importsOf(file)) {
        if (spec.startsWith('node:'))
          throw new StepError(`${file} (wsguard/client) imports ${spec}`);
        if (spec.startsWith('.')) walk(join(dirname(file), spec));
      }
    };
    walk(pkg.exports['./client'].default.replace(/^\.\//, ''));
    return `${[...seen].join(', ')} (wsguard/client) imports no built-in; every import declared`;
  });

// ---------------------------------------------------------------------------------------------
// Node

const nodeDir = join(tmp, 'node');
const nodeInstalled =
  packed &&
  (await step('node: npm install <tarball> @trpc/server @trpc/client ws', async () => {
    mkdirSync(nodeDir);
    await run('npm', ['init', '-y'], { cwd: nodeDir });
    await run('npm', ['pkg', 'set', 'type=module'], { cwd: nodeDir });
    const flags = ['--no-audit', '--no-fund', '--loglevel=error'];
    // zod, ioredis, unstorage, pino: what the docs' snippets import (examples/snippets);
    // express, fastify, hono, h3, elysia: the integrations' examples (wsguard/<framework>).
    const deps = [
      tarball,
      ...[
        '@trpc/server',
        '@trpc/client',
        'ws',
        'zod',
        'ioredis',
        'unstorage',
        'pino',
        'express',
        'fastify',
        'hono',
        '@hono/node-server',
        'h3',
        'elysia',
      ].map(pinned),
    ];
    await run('npm', ['install', ...flags, ...deps], {
      cwd: nodeDir,
      timeoutMs: 120_000,
    });
    // What a TypeScript user adds.
    const major = process.versions.node.split('.')[0];
    await run(
      'npm',
      [
        ...['install', ...flags, '-D', pinned('typescript'), `@types/node@${major}`],
        ...['@types/ws', '@types/bun', '@types/express'].map(pinned),
      ],
      { cwd: nodeDir, timeoutMs: 120_000 },
    );
    assertThisBuild(nodeDir);
    const installed = readJson(join(nodeDir, 'node_modules/wsguard/package.json')).version;
    return `wsguard ${installed}`;
  }));

const nodeTyped =
  nodeInstalled &&
  (await step('node: tsc against the installed .d.mts, every subpath', async () => {
    copyFixtures(nodeDir, ['app.ts', 'server.node.ts', 'client.ts', 'types.ts']);
    writeFileSync(
      join(nodeDir, 'tsconfig.json'),
      JSON.stringify(
        {
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            lib: ['ES2023', 'DOM'],
            strict: true,
            skipLibCheck: false,
            rewriteRelativeImportExtensions: true,
            verbatimModuleSyntax: true,
            types: ['node'],
            outDir: 'out',
          },
          files: ['app.ts', 'server.node.ts', 'client.ts', 'types.ts'],
        },
        null,
        2,
      ),
    );
    await run(join(nodeDir, 'node_modules/.bin/tsc'), ['-p', '.'], { cwd: nodeDir });
    const tsc = readJson(join(nodeDir, 'node_modules/typescript/package.json')).version;
    return `typescript ${tsc}, 12 subpaths (wsguard/h3 with the snippets)`;
  }));

let nodeServer;
if (nodeTyped) {
  await step('node: guarded tRPC server + client (wsguard/adapters/node)', async () => {
    nodeServer = await startServer('node', ['out/server.node.js'], {
      cwd: nodeDir,
      env: { JWT_SECRET: secret },
    });
    const n = await runClient('node', ['out/client.js'], nodeDir, nodeServer.url);
    return `${n} checks on Node ${process.version} (token, ticket, 403 foreign origin, 4001 bad token)`;
  });
} else
  skip('node: guarded tRPC server + client (wsguard/adapters/node)', 'install or types failed');

// ---------------------------------------------------------------------------------------------
// CLI, from a project that installed nothing but the tarball.

const cliDir = join(tmp, 'cli');
if (packed && nodeServer) {
  await step('cli: npm install <tarball>; npx wsguard audit <node server>', async () => {
    mkdirSync(cliDir);
    await run('npm', ['init', '-y'], { cwd: cliDir });
    await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball], {
      cwd: cliDir,
      timeoutMs: 120_000,
    });
    assertThisBuild(cliDir);
    const footprint = installFootprint(join(cliDir, 'node_modules'));
    const target = `${nodeServer.url.replace(/^http/, 'ws')}/ws`;
    const token = signJwt({ sub: 'auditor', roles: ['user'] });
    const out = await run(
      'npx',
      ['--no', 'wsguard', 'audit', target, '--origin', ORIGIN, '--token', token, '--wait', '1500'],
      { cwd: cliDir, timeoutMs: 90_000 },
    );
    const counts = {};
    for (const line of out.split('\n')) {
      const verdict = line.match(/^(PASS|WARN|SKIP|FAIL)\s/)?.[1].toLowerCase();
      if (verdict) counts[verdict] = (counts[verdict] ?? 0) + 1;
    }
    if (!counts.pass) throw new StepError('the audit reported no passing probe', out);
    const summary = Object.entries(counts)
      .map(([v, n]) => `${n} ${v}`)
      .join(', ');
    return `exit 0 (${summary}); \`npm install wsguard\` alone: ${footprint}`;
  });
} else skip('cli: npm install <tarball>; npx wsguard audit <node server>', 'no Node server');

// `wsguard init` into a folder of the Node project (it has the peers the scaffolded client's
// types name: @trpc/*), compiled strict with its TypeScript, run, and audited by the CLI that
// `npm install wsguard` alone installed: the scaffold must pass its own audit (exit 0).
if (packed && nodeTyped) {
  await step('cli: npx wsguard init; tsc --strict; npx wsguard audit <scaffold>', async () => {
    const dir = join(nodeDir, 'scaffold');
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    await run(join(cliDir, 'node_modules/.bin/wsguard'), ['init', '--runtime', 'node'], {
      cwd: dir,
    });
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023', 'DOM'],
          strict: true,
          skipLibCheck: false,
          types: ['node'],
          rootDir: 'wsguard',
          outDir: 'out',
        },
        files: ['wsguard/server.ts', 'wsguard/client.ts'],
      }),
    );
    await run(join(nodeDir, 'node_modules/.bin/tsc'), ['-p', '.'], { cwd: dir });
    const origin = 'http://localhost:5173';
    const server = start('node', ['out/server.js'], {
      cwd: dir,
      env: { JWT_SECRET: secret, APP_ORIGIN: origin, PORT: '0' },
      timeoutMs: 120_000,
    });
    try {
      const url = await new Promise((resolveUrl, reject) => {
        const timer = setTimeout(
          () => reject(new StepError('no start-up line', server.out)),
          30_000,
        );
        server.child.stdout.on('data', () => {
          const m = server.out.match(/guarded WebSocket on (ws:\/\/\S+)/);
          if (m) {
            clearTimeout(timer);
            resolveUrl(m[1]);
          }
        });
        server.done.then((r) => reject(new StepError(`exited (${r.code})`, server.out)));
      });
      const token = signJwt({ sub: 'auditor', roles: ['user'] });
      const args = ['--origin', origin, '--token', token, '--ticket-url'];
      const ticketUrl = `${url.replace(/^ws/, 'http').replace(/\/ws$/, '')}/ws/ticket`;
      const r = await start('npx', ['--no', 'wsguard', 'audit', url, ...args, ticketUrl], {
        cwd: cliDir,
        timeoutMs: 120_000,
      }).done;
      if (r.code !== 0) throw new StepError(`audit of the scaffold: exit ${r.code}`, r.out);
      const fails = r.out.split('\n').filter((l) => /^FAIL\s/.test(l)).length;
      return `scaffold compiled and audited at ${url}: exit 0, ${fails} FAIL`;
    } finally {
      try {
        process.kill(-server.child.pid, 'SIGKILL');
      } catch {}
    }
  });
} else skip('cli: npx wsguard init; tsc --strict; npx wsguard audit <scaffold>', 'no install');

if (nodeServer) {
  await step('node: graceful stop (SIGTERM → close → exit 0)', () => nodeServer.stop());
}

// ---------------------------------------------------------------------------------------------
// Bun

const bunDir = join(tmp, 'bun');
let bunInstalled = false;
if (packed) {
  bunInstalled = await step('bun: bun add <tarball> @trpc/server @trpc/client', async () => {
    mkdirSync(bunDir);
    writeFileSync(
      join(bunDir, 'package.json'),
      `${JSON.stringify({ name: 'wsguard-install-bun', private: true, type: 'module' }, null, 2)}\n`,
    );
    await run(BUN, ['add', tarball, pinned('@trpc/server'), pinned('@trpc/client')], {
      cwd: bunDir,
      timeoutMs: 120_000,
    });
    assertThisBuild(bunDir);
    const version = (await run(BUN, ['--version'])).trim();
    return `bun ${version}`;
  });
  if (bunInstalled) {
    await step('bun: guarded tRPC server + client (wsguard/adapters/bun)', async () => {
      copyFixtures(bunDir, ['app.ts', 'server.bun.ts', 'client.ts']);
      const server = await startServer(BUN, ['server.bun.ts'], {
        cwd: bunDir,
        env: { JWT_SECRET: secret },
      });
      try {
        const n = await runClient(BUN, ['client.ts'], bunDir, server.url);
        await server.stop();
        return `${n} checks, graceful stop`;
      } finally {
        server.kill();
      }
    });
  } else skip('bun: guarded tRPC server + client (wsguard/adapters/bun)', 'bun add failed');
} else skip('bun', 'no tarball');

// ---------------------------------------------------------------------------------------------
// Deno, twice: through the npm tarball (the Node project's node_modules, bare `wsguard/...`
// specifiers resolved by Deno itself), and through the JSR package's sources (a deno.json `links`
// to the repo, so `jsr:@wsguard/wsguard` resolves to what `deno publish` uploads).

const DENO_ENV = { DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1' };
/** `deno check`, then the Deno server and the client; `flags` pick how modules resolve. */
async function denoApp(dir, flags) {
  copyFixtures(dir, ['app.ts', 'server.deno.ts', 'client.ts']);
  await run(DENO, ['check', '--quiet', ...flags, 'server.deno.ts', 'client.ts'], {
    cwd: dir,
    env: DENO_ENV,
    timeoutMs: 90_000,
  });
  const perms = ['--allow-net=127.0.0.1', '--allow-env'];
  const server = await startServer(DENO, ['run', '--quiet', ...flags, ...perms, 'server.deno.ts'], {
    cwd: dir,
    env: { ...DENO_ENV, JWT_SECRET: secret },
  });
  try {
    const n = await runClient(
      DENO,
      ['run', '--quiet', ...flags, ...perms, 'client.ts'],
      dir,
      server.url,
    );
    await server.stop();
    return `${n} checks, graceful stop, deno check clean`;
  } finally {
    server.kill();
  }
}

if (nodeInstalled) {
  await step('deno: npm tarball (--node-modules-dir=manual), wsguard/adapters/deno', async () => {
    const version = (await run(DENO, ['--version'])).split('\n')[0].split(' (')[0];
    return `${await denoApp(nodeDir, ['--node-modules-dir=manual'])}, ${version}`;
  });
} else skip('deno: npm tarball (--node-modules-dir=manual)', 'Node install failed');

await step('deno: JSR package from source (links → repo), jsr:@wsguard/wsguard', async () => {
  const dir = join(tmp, 'deno-jsr');
  mkdirSync(dir);
  const { ENTRIES } = await import('./entries.mjs');
  const { version } = readJson(join(ROOT, 'jsr.json'));
  const imports = {};
  for (const subpath of Object.keys(ENTRIES))
    imports[`wsguard${subpath.slice(1)}`] = `jsr:@wsguard/wsguard@^${version}${subpath.slice(1)}`;
  imports['@trpc/server'] = 'npm:@trpc/server@^11';
  imports['@trpc/client'] = 'npm:@trpc/client@^11';
  writeFileSync(join(dir, 'deno.json'), JSON.stringify({ links: [ROOT], imports }, null, 2));
  return denoApp(dir, []);
});

// ---------------------------------------------------------------------------------------------
// The README's snippets (examples/snippets), type-checked and run from the installed package.

await snippetSteps({
  step,
  skip,
  run,
  start,
  StepError,
  root: ROOT,
  nodeDir,
  bunDir,
  secret,
  signJwt,
  bun: BUN,
  deno: DENO,
  denoEnv: DENO_ENV,
  nodeInstalled,
  bunInstalled,
});

// ---------------------------------------------------------------------------------------------

const failed = results.filter((ok) => !ok).length;
console.log(
  failed === 0
    ? `PASS install test: ${results.length} steps in ${seconds()} s`
    : `FAIL install test: ${failed} of ${results.length} steps failed (${seconds()} s)`,
);
cleanup();
process.exit(failed === 0 ? 0 : 1);
