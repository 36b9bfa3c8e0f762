/**
 * Known advisories of the packages a WebSocket server is built on, as a maintainer would list
 * them: each with the version ranges it affects (per release line) and the first fixed version.
 * Ranges are `[from, to)`: affected from `from` (inclusive) up to the fix (exclusive).
 *
 * @module
 */
import type { Severity } from './finding.ts';

/** One advisory of one package. */
export interface Advisory {
  /** The package, as npm names it. */
  readonly name: string;
  /** CVE (or GHSA) id. */
  readonly id: string;
  /** How bad it is for a WebSocket server. */
  readonly severity: Severity;
  /** What it lets an attacker do, in words. */
  readonly summary: string;
  /** Affected `[from, fixed)` ranges, one per release line. */
  readonly ranges: readonly (readonly [from: string, fixed: string])[];
}

/** The advisories the audit checks a lock file against. */
export const ADVISORIES: readonly Advisory[] = [
  {
    name: 'ws',
    id: 'CVE-2024-37890',
    severity: 'high',
    summary: 'a request with many HTTP headers crashes the server (denial of service)',
    ranges: [
      ['2.1.0', '5.2.4'],
      ['6.0.0', '6.2.3'],
      ['7.0.0', '7.5.10'],
      ['8.0.0', '8.17.1'],
    ],
  },
  {
    name: 'ws',
    id: 'CVE-2021-32640',
    severity: 'medium',
    summary: 'a crafted Sec-WebSocket-Protocol header takes the CPU (ReDoS)',
    ranges: [
      ['5.0.0', '5.2.3'],
      ['6.0.0', '6.2.2'],
      ['7.0.0', '7.4.6'],
    ],
  },
  {
    name: '@trpc/server',
    id: 'CVE-2025-43855',
    severity: 'high',
    summary: 'invalid connectionParams crash a tRPC 11 WebSocket server, unauthenticated',
    ranges: [['11.0.0', '11.1.1']],
  },
  {
    name: 'engine.io',
    id: 'CVE-2023-31125',
    severity: 'medium',
    summary: 'a crafted request triggers an uncaught exception that kills the process',
    ranges: [['5.1.0', '6.4.2']],
  },
  {
    name: 'engine.io',
    id: 'CVE-2022-41940',
    severity: 'medium',
    summary: 'a crafted HTTP request triggers an uncaught exception that kills the process',
    ranges: [
      ['0.0.0', '3.6.1'],
      ['4.0.0', '6.2.1'],
    ],
  },
  {
    name: 'socket.io-parser',
    id: 'CVE-2023-32695',
    severity: 'high',
    summary: 'a crafted packet throws an uncaught exception that kills the process',
    ranges: [
      ['0.0.0', '3.3.4'],
      ['3.4.0', '3.4.3'],
      ['4.0.4', '4.2.3'],
    ],
  },
  {
    name: 'socket.io-parser',
    id: 'CVE-2022-2421',
    severity: 'high',
    summary: 'insufficient validation of attachments lets a packet smuggle objects',
    ranges: [
      ['0.0.0', '3.3.3'],
      ['3.4.0', '3.4.2'],
      ['4.0.0', '4.0.5'],
    ],
  },
  {
    name: 'socket.io',
    id: 'CVE-2024-38355',
    severity: 'high',
    summary: "a crafted packet raises an unhandled 'error' event that kills the process",
    ranges: [
      ['0.0.0', '2.5.1'],
      ['3.0.0', '4.6.2'],
    ],
  },
];

/** The packages the advisories name. */
export const WATCHED: ReadonlySet<string> = new Set(ADVISORIES.map((a) => a.name));

/** `x.y.z` as numbers, or `undefined` (a prerelease or anything else is not compared). */
function parse(version: string): [number, number, number] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

function below(a: [number, number, number], b: [number, number, number]): boolean {
  return a[0] !== b[0] ? a[0] < b[0] : a[1] !== b[1] ? a[1] < b[1] : a[2] < b[2];
}

/** The advisories `name@version` is affected by, each with the fix for its line. */
export function affected(name: string, version: string): (Advisory & { fixed: string })[] {
  const v = parse(version);
  if (v === undefined) return [];
  const out: (Advisory & { fixed: string })[] = [];
  for (const a of ADVISORIES) {
    if (a.name !== name) continue;
    for (const [from, fixed] of a.ranges) {
      if (!below(v, parse(from)!) && below(v, parse(fixed)!)) out.push({ ...a, fixed });
    }
  }
  return out;
}
