import { describe, expect, it } from 'vitest';
import { parseCli } from '../../cli/args.ts';
import { parseSources } from '../../cli/sources.ts';

describe('wsguard argument parsing', () => {
  it('takes --x=y and --x y alike, with defaults', () => {
    const a = parseCli(['audit', 'ws://h/ws', '--origin=https://a.example', '--wait', '250']);
    expect(a.kind).toBe('audit');
    if (a.kind !== 'audit') return;
    expect(a.args).toMatchObject({
      origin: 'https://a.example',
      waitMs: 250,
      authWaitMs: 6500,
      failOn: 'high',
      json: false,
    });
  });

  it('refuses a bad number, naming the option', () => {
    for (const [opt, v] of [
      ['--wait', 'abc'],
      ['--wait', '-5'],
      ['--auth-wait', '1.5'],
      ['--connect-timeout', '0'],
    ]) {
      const p = parseCli(['audit', 'ws://h/ws', opt!, v!]);
      expect(p.kind).toBe('usage-error');
      if (p.kind === 'usage-error') expect(p.message).toContain(opt!);
    }
  });

  it('refuses unknown options, bad severities, bad URLs and missing commands', () => {
    expect(parseCli(['audit', 'ws://h/ws', '--nope']).kind).toBe('usage-error');
    const sev = parseCli(['audit', 'ws://h/ws', '--fail-on', 'critical']);
    expect(sev.kind === 'usage-error' && sev.message).toContain('--fail-on');
    expect(parseCli(['audit', 'http://h/ws']).kind).toBe('usage-error');
    expect(parseCli(['audit']).kind).toBe('usage-error');
    expect(parseCli([]).kind).toBe('usage-error');
    expect(parseCli(['frobnicate']).kind).toBe('usage-error');
    expect(parseCli(['audit', 'ws://h/ws', '--origin', 'not an origin']).kind).toBe('usage-error');
  });

  it('answers --help / -h and --version on every command', () => {
    for (const argv of [
      ['--help'],
      ['-h'],
      ['audit', '--help'],
      ['health', '-h'],
      ['audit', 'ws://h', '-h'],
    ])
      expect(parseCli(argv).kind).toBe('help');
    for (const argv of [['--version'], ['audit', '--version'], ['health', '--version']])
      expect(parseCli(argv).kind).toBe('version');
  });

  it('takes the key, key set and ticket options, checking URLs and seconds', () => {
    const a = parseCli([
      'audit',
      'ws://h/ws',
      '--public-key',
      'k.pem',
      '--jwks=https://h/.well-known/jwks.json',
      '--ticket-url',
      'http://h/ws/ticket',
    ]);
    expect(a.kind === 'audit' && a.args).toMatchObject({
      publicKey: 'k.pem',
      jwks: 'https://h/.well-known/jwks.json',
      ticketUrl: 'http://h/ws/ticket',
      ticketMaxAgeSec: 60,
    });
    const max = parseCli(['audit', 'ws://h/ws', '--ticket-max-age', '30']);
    expect(max.kind === 'audit' && max.args.ticketMaxAgeSec).toBe(30);
    for (const [opt, v] of [
      ['--ticket-url', 'ws://h/ws/ticket'],
      ['--jwks', 'not a url'],
      ['--ticket-max-age', '1.5'],
    ]) {
      const p = parseCli(['audit', 'ws://h/ws', opt!, v!]);
      expect(p.kind === 'usage-error' && p.message).toContain(opt!);
    }
  });

  it('init --framework: the default runtime follows the framework; impossible ones are usage errors', () => {
    const elysia = parseCli(['init', '--framework', 'elysia']);
    expect(elysia.kind === 'init' && elysia.args).toMatchObject({
      framework: 'elysia',
      runtime: 'bun',
    });
    const hono = parseCli(['init', '--framework', 'hono', '--runtime', 'deno']);
    expect(hono.kind === 'init' && hono.args).toMatchObject({ framework: 'hono', runtime: 'deno' });
    for (const argv of [
      ['init', '--framework', 'elysia', '--runtime', 'node'],
      ['init', '--framework', 'h3', '--runtime', 'bun'],
      ['init', '--framework', 'ws', '--trpc'],
      ['init', '--framework', 'nest'],
    ])
      expect(parseCli(argv).kind).toBe('usage-error');
  });

  it('parses --source ranges and lists, refusing bad ones', () => {
    expect(parseSources('127.0.0.2-127.0.0.4')).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    expect(parseSources('127.0.0.9-10,127.0.1.1')).toEqual([
      '127.0.0.9',
      '127.0.0.10',
      '127.0.1.1',
    ]);
    expect(() => parseSources('127.0.0.5-127.0.0.2')).toThrow(/--source/);
    expect(() => parseSources('::1')).toThrow(/--source/);
    expect(() => parseSources('10.0.0.0-10.0.255.255')).toThrow(/at most/);
    const p = parseCli(['audit', 'ws://h/ws', '--source', 'x']);
    expect(p.kind === 'usage-error' && p.message).toContain('--source');
  });
});
