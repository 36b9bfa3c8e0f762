#!/usr/bin/env node
/**
 * The `wsguard` command.
 *
 *   wsguard audit <ws-url> [--origin <allowed-origin>] [--token <jwt>] [--wait <ms>] [--json]
 *
 * Exits 1 when any probe fails, 2 on bad usage.
 *
 * @module
 */
import { audit, formatFindings } from './audit.ts';

const USAGE = `usage: wsguard audit <ws-url> [--origin <allowed-origin>] [--token <jwt>] [--wait <ms>] [--json]

Probes a WebSocket endpoint with hijacking, credential and flooding attacks and reports
what it let through. --token enables the probes that need an authenticated socket.`;

async function main(argv: string[]): Promise<number> {
  const [command, target, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === undefined) {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'audit' || !target || !/^wss?:\/\//.test(target)) {
    console.error(USAGE);
    return 2;
  }
  const flags = new Map<string, string>();
  let json = false;
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i]!;
    if (flag === '--json') json = true;
    else if (['--origin', '--token', '--wait'].includes(flag) && rest[i + 1] !== undefined)
      flags.set(flag, rest[++i]!);
    else {
      console.error(`unknown or incomplete option: ${flag}\n\n${USAGE}`);
      return 2;
    }
  }
  const wait = flags.has('--wait') ? Number(flags.get('--wait')) : undefined;
  const findings = await audit({
    url: target,
    ...(flags.has('--origin') ? { origin: flags.get('--origin')! } : {}),
    ...(flags.has('--token') ? { token: flags.get('--token')! } : {}),
    ...(wait !== undefined && Number.isFinite(wait) ? { waitMs: wait } : {}),
  });
  console.log(json ? JSON.stringify(findings, null, 2) : formatFindings(findings));
  return findings.some((f) => f.verdict === 'fail') ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
