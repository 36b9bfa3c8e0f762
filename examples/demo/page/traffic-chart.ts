/**
 * The admin view's chart: accepted and refused handshakes and frames per 10 s over the last five
 * minutes, drawn as SVG elements (no library; the strict CSP forbids inline styles, and SVG
 * presentation attributes are not styles).
 */
import type { TrafficBucket } from '../admin/traffic-series.ts';

const NS = 'http://www.w3.org/2000/svg';
const W = 720;
const H = 160;
const PAD = 24;

/** The four lines: which count, its colour, its label. */
const SERIES = [
  ['handshakesAccepted', '#1a7f37', 'handshakes accepted'],
  ['handshakesRefused', '#cf222e', 'handshakes refused'],
  ['framesAccepted', '#3b6cf6', 'frames accepted'],
  ['framesRefused', '#bf8700', 'frames refused'],
] as const;

function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** Draw `buckets` (oldest first) into `host`, replacing what was there. */
export function drawTraffic(host: HTMLElement, buckets: readonly TrafficBucket[]): void {
  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H + 40}`,
    role: 'img',
    'aria-label': 'Accepted and refused handshakes and frames, per 10 seconds, last 5 minutes',
  });
  // A log scale: a flood of refused frames must not flatten the handful of handshakes.
  const top = Math.max(1, ...buckets.flatMap((b) => SERIES.map(([k]) => b[k])));
  const y = (n: number): number => H - PAD - (Math.log1p(n) / Math.log1p(top)) * (H - 2 * PAD);
  const x = (i: number): number => PAD + (i * (W - 2 * PAD)) / Math.max(1, buckets.length - 1);
  root.append(svg('line', { x1: PAD, y1: H - PAD, x2: W - PAD, y2: H - PAD, stroke: 'GrayText' }));
  const peak = svg('text', { x: PAD, y: PAD - 8, 'font-size': 11, fill: 'GrayText' });
  peak.textContent = `peak ${top} per 10 s (log scale) · now at the right`;
  root.append(peak);
  SERIES.forEach(([key, colour, label], s) => {
    const points = buckets.map((b, i) => `${x(i).toFixed(1)},${y(b[key]).toFixed(1)}`).join(' ');
    const line = svg('polyline', { points, fill: 'none', stroke: colour, 'stroke-width': 2 });
    line.dataset['series'] = key;
    line.dataset['total'] = String(buckets.reduce((n, b) => n + b[key], 0));
    root.append(line);
    const legend = svg('text', { x: PAD + s * 170, y: H + 20, 'font-size': 12, fill: colour });
    legend.textContent = `■ ${label}`;
    root.append(legend);
  });
  host.replaceChildren(root);
}
