/**
 * The fault suite's one judgement, pure so that it can be tested by hand-made cases: given the
 * events the publisher had acknowledged (in publish order), what one subscriber received (in
 * arrival order) and what it was told (contract codes, each placed after the events received
 * before it), say what went wrong. Every acknowledged event must arrive exactly once, in order,
 * unless the subscriber was told to reload: a RELOAD excuses the events it says are gone, and
 * nothing else does (a RESUME means the events are still held, so resuming must not lose any).
 */

/** An event the publisher was told was appended (its publish resolved with `id`). */
export interface Acked {
  readonly n: number;
  readonly id: string;
}

/** One event as a subscriber received it. */
export interface Received {
  readonly n: number;
  readonly id: string;
}

/** What a subscriber was told: a contract code (or close/stop text), after `at` events received. */
export interface Told {
  readonly code: string;
  readonly at: number;
}

/** A run of acknowledged events that a subscriber skipped. */
export interface Gap {
  /** The last event received before the gap (`undefined`: the gap is at the start). */
  readonly after: number | undefined;
  /** The first event received after it (`undefined`: the gap is at the end, i.e. lost). */
  readonly before: number | undefined;
  /** The acknowledged events skipped. */
  readonly missing: readonly number[];
  /** Whether a RELOAD was told in between (the app knew), or not (a silent gap). */
  readonly told: boolean;
}

/** What {@link verify} found; `ok` when nothing is wrong. */
export interface Verdict {
  readonly ok: boolean;
  /** Acknowledged events never received, with no RELOAD told to excuse them. */
  readonly lost: readonly number[];
  /** Events received more than once (each listed once, with its count). */
  readonly duplicates: readonly { readonly n: number; readonly times: number }[];
  /** Events received after one that was published later (`[earlier received, later received]`). */
  readonly reordered: readonly (readonly [number, number])[];
  /** Skipped runs between received events with no RELOAD in between. */
  readonly silentGaps: readonly Gap[];
  /** Skipped runs a RELOAD told about (not a failure; listed for the report). */
  readonly toldGaps: readonly Gap[];
  /** Received with another id than the publish was acknowledged with (a second append). */
  readonly wrongId: readonly { readonly n: number; readonly acked: string; readonly got: string }[];
  /** Received events never acknowledged and not in `attempted` (nobody published them). */
  readonly unknown: readonly number[];
  /** Everything told, for the report. */
  readonly told: readonly string[];
}

/** The code a RELOAD carries (`error.data.wsguardCode`). */
export const RELOAD = 'WSGUARD_FEED_RELOAD';

/**
 * Judge one subscriber. `attempted` lists events whose publish never resolved (retries ran out):
 * they may arrive once or not at all, but not twice and not out of order.
 */
export function verify(
  acked: readonly Acked[],
  received: readonly Received[],
  told: readonly Told[],
  attempted: readonly number[] = [],
): Verdict {
  const index = new Map<number, number>();
  for (const [i, a] of acked.entries()) index.set(a.n, i);
  const optional = new Set(attempted);
  const reloadsAt = told.filter((t) => t.code === RELOAD).map((t) => t.at);
  // A RELOAD told after `from` events and at or before `to` events received.
  const reloadBetween = (from: number, to: number): boolean =>
    reloadsAt.some((at) => at >= from && at <= to);

  const counts = new Map<number, number>();
  const wrongId: { n: number; acked: string; got: string }[] = [];
  const unknown: number[] = [];
  const reordered: [number, number][] = [];
  const silentGaps: Gap[] = [];
  const toldGaps: Gap[] = [];
  const gap = (g: Gap): void => {
    if (g.missing.length > 0) (g.told ? toldGaps : silentGaps).push(g);
  };

  // `last`: position in `acked` of the latest acknowledged event received; `lastAt`: how many
  // events had been received when it came.
  let last = -1;
  let lastAt = 0;
  let lastN: number | undefined;
  for (const [k, r] of received.entries()) {
    const times = (counts.get(r.n) ?? 0) + 1;
    counts.set(r.n, times);
    if (times > 1) continue; // a duplicate, counted; neither a reordering nor a gap
    const i = index.get(r.n);
    if (i === undefined) {
      if (!optional.has(r.n)) unknown.push(r.n);
      continue;
    }
    const a = acked[i] as Acked;
    if (a.id !== r.id) wrongId.push({ n: r.n, acked: a.id, got: r.id });
    if (i < last) {
      reordered.push([lastN as number, r.n]);
      continue;
    }
    if (i > last + 1) {
      const missing = acked
        .slice(last + 1, i)
        .map((x) => x.n)
        .filter((n) => !counts.has(n));
      gap({ after: lastN, before: r.n, missing, told: reloadBetween(lastAt, k) });
    }
    last = i;
    lastAt = k + 1;
    lastN = r.n;
  }
  const tail = acked
    .slice(last + 1)
    .map((x) => x.n)
    .filter((n) => !counts.has(n));
  const tailTold = reloadBetween(lastAt, Number.POSITIVE_INFINITY);
  gap({ after: lastN, before: undefined, missing: tail, told: tailTold });
  const lost = tailTold ? [] : tail;
  const duplicates = [...counts]
    .filter(([, times]) => times > 1)
    .map(([n, times]) => ({ n, times }));
  const ok =
    lost.length === 0 &&
    duplicates.length === 0 &&
    reordered.length === 0 &&
    silentGaps.length === 0 &&
    wrongId.length === 0 &&
    unknown.length === 0;
  return {
    ok,
    lost,
    duplicates,
    reordered,
    silentGaps,
    toldGaps,
    wrongId,
    unknown,
    told: told.map((t) => `${t.code}@${t.at}`),
  };
}

/** A short text of a verdict's failures, for an assertion message. */
export function describeVerdict(v: Verdict): string {
  const parts: string[] = [];
  const few = (xs: readonly unknown[]): string =>
    `${xs.length}: ${JSON.stringify(xs.slice(0, 8))}${xs.length > 8 ? '…' : ''}`;
  if (v.lost.length) parts.push(`lost ${few(v.lost)}`);
  if (v.duplicates.length) parts.push(`duplicates ${few(v.duplicates)}`);
  if (v.reordered.length) parts.push(`reordered ${few(v.reordered)}`);
  if (v.silentGaps.length)
    parts.push(
      `silent gaps ${few(v.silentGaps.map((g) => ({ after: g.after, before: g.before, missing: g.missing.length })))}`,
    );
  if (v.wrongId.length) parts.push(`wrong id ${few(v.wrongId)}`);
  if (v.unknown.length) parts.push(`unknown ${few(v.unknown)}`);
  if (v.told.length) parts.push(`told ${few(v.told)}`);
  return parts.join('; ') || 'ok';
}
