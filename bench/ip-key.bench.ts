/**
 * What keying a client costs per handshake: `ipKey` on each kind of input, and the proxy resolver
 * on a typical and a hostile `X-Forwarded-For`. Run alone: `npx tsx bench/ip-key.bench.ts`
 * (`BENCH_TIME_MS` sets the time per task, default 500). Each task checks its own answer once, so
 * a wrong result fails the run instead of being measured.
 *
 * @module
 */
import { Bench } from 'tinybench';
import { createProxyTrust } from '../src/handshake/trusted-proxy.ts';
import { ipKey } from '../src/state/ip-key.ts';

const time = Number(process.env.BENCH_TIME_MS ?? 500);
const trust = createProxyTrust({ trustProxy: ['10.0.0.0/8'] });
const typical = new Headers({ 'x-forwarded-for': '203.0.113.9:51234, 10.0.0.7' });
const hostile = new Headers({
  'x-forwarded-for': `203.0.113.9, ${Array.from({ length: 2_000 }, () => '10.0.0.1').join(', ')}`,
});

const cases: [string, () => string, string][] = [
  ['ipKey IPv4 (canonical, returned as is)', () => ipKey('203.0.113.9', 64), '203.0.113.9'],
  ['ipKey IPv4-mapped IPv6', () => ipKey('::ffff:203.0.113.9', 64), '203.0.113.9'],
  ['ipKey IPv6 /64', () => ipKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd', 64), '2001:db8:1:2::/64'],
  ['ipKey IPv6 /128', () => ipKey('2001:db8::1', 128), '2001:db8::1'],
  ['ipKey garbage (1 KiB)', () => ipKey('x'.repeat(1024), 64), `?${'x'.repeat(64)}`],
  ['resolve: proxy + port', () => trust.resolve('10.0.0.1', false, typical).ip, '203.0.113.9'],
  ['resolve: 2,000-hop chain', () => trust.resolve('10.0.0.1', false, hostile).ip, 'unknown'],
];

const bench = new Bench({ time, warmup: true });
for (const [name, run, want] of cases) {
  const got = run();
  if (got !== want) throw new Error(`${name}: got ${got}, want ${want}`);
  bench.add(name, run);
}
await bench.run();
console.table(
  bench.tasks.map((t) => {
    const r = t.result;
    if (r.state !== 'completed') throw new Error(`${t.name}: ${r.state}`);
    return {
      task: t.name,
      'ns/op (median)': Math.round(r.latency.p50 * 1e6),
      'ops/s': Math.round(r.throughput.mean),
    };
  }),
);
