/**
 * The transport finding, since plain `ws://` sends tokens and tickets in the clear. On loopback
 * that is only a development setup, so it is a low warning there and a medium one anywhere else.
 *
 * @module
 */
import type { Finding } from './finding.ts';

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/;

/** The transport finding for `url`. */
export function transportFinding(url: string): Finding {
  const base = {
    id: 'transport',
    check: 'transport',
    category: 'transport',
    expected: 'wss:// (TLS)',
  } as const;
  if (url.startsWith('wss://'))
    return { ...base, verdict: 'pass', severity: 'info', observed: 'wss://' };
  const local = LOOPBACK.test(new URL(url).hostname);
  return {
    ...base,
    verdict: 'warn',
    severity: local ? 'low' : 'medium',
    observed: local ? 'plain ws:// on loopback' : 'plain ws://',
    fix: 'Serve over TLS (wss://) and refuse plain ws:// in production (requireSecure).',
  };
}
