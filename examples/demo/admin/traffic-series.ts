/**
 * The admin chart's data: accepted and refused handshakes and frames over the last minutes, in
 * fixed buckets. Handshakes and refused frames come from audit events; accepted frames from the
 * guard's delivered-message counter, sampled (the guard audits refusals, not every frame).
 */
import type { AuditEvent } from '../../../src/mod.ts';
import { refusalKind } from './refusal-table.ts';

/** One bucket's counts. */
export interface TrafficBucket {
  /** Start of the bucket (ms since epoch). */
  readonly at: number;
  handshakesAccepted: number;
  handshakesRefused: number;
  framesAccepted: number;
  framesRefused: number;
}

/** Bucket width and how many are kept: 10 s × 30, the last five minutes. */
export const BUCKET_MS = 10_000;
const BUCKETS = 30;

/** Counts per bucket over the last minutes. */
export class TrafficSeries {
  readonly #buckets: TrafficBucket[] = [];
  #messages: number | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  #bucket(at: number): TrafficBucket {
    const start = at - (at % BUCKET_MS);
    let last = this.#buckets.at(-1);
    if (last === undefined || last.at < start) {
      last = {
        at: start,
        handshakesAccepted: 0,
        handshakesRefused: 0,
        framesAccepted: 0,
        framesRefused: 0,
      };
      this.#buckets.push(last);
      while (this.#buckets.length > BUCKETS) this.#buckets.shift();
    }
    return last;
  }

  /** Count an audit event (accepted or refused handshake, refused frame). */
  record(event: AuditEvent): void {
    const kind = refusalKind(event.type);
    const bucket = this.#bucket(this.now());
    if (event.type === 'connection.accepted') bucket.handshakesAccepted++;
    else if (kind === 'handshake') bucket.handshakesRefused++;
    else if (kind === 'frame') bucket.framesRefused++;
  }

  /**
   * Sample the guard's delivered-message total: what it grew by since the last sample goes to
   * the current bucket (a sample only every so often smears frames into the later bucket).
   */
  sampleMessages(total: number): void {
    const bucket = this.#bucket(this.now());
    if (this.#messages !== undefined && total >= this.#messages)
      bucket.framesAccepted += total - this.#messages;
    this.#messages = total;
  }

  /** The last {@link BUCKETS} buckets, oldest first, empty ones included. */
  buckets(): TrafficBucket[] {
    const end = this.#bucket(this.now()).at;
    const byStart = new Map(this.#buckets.map((b) => [b.at, b]));
    const out: TrafficBucket[] = [];
    for (let i = BUCKETS - 1; i >= 0; i--) {
      const at = end - i * BUCKET_MS;
      out.push({
        ...(byStart.get(at) ?? {
          at,
          handshakesAccepted: 0,
          handshakesRefused: 0,
          framesAccepted: 0,
          framesRefused: 0,
        }),
      });
    }
    return out;
  }
}
