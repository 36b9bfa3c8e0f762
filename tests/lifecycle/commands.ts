/**
 * The lifecycle test's commands for fast-check's `commands`: connect, frame, flood, refresh, ban
 * (on either instance: the other one's connections are the remote case), unban, kick, close,
 * store down/up, wait, and a race of two of them. Each runs its step on the {@link Lifecycle},
 * then checks every invariant. Sockets are named by a number taken modulo the open ones, so a
 * shrunk sequence still names a socket.
 */
import fc from 'fast-check';
import type { Subject } from '../../src/mod.ts';
import { IPS, USERS } from './config.ts';
import {
  type ConnectParams,
  type FrameParams,
  Lifecycle,
  MICROTASK_TICKS,
  type Step,
} from './lifecycle.ts';
import type { FrameKind } from './model.ts';
import type { TokenKind } from './tokens.ts';

/** fast-check's model slot: everything lives in the {@link Lifecycle}. */
type Slot = object;

/** One command. */
export type LifecycleCommand = fc.AsyncCommand<Slot, Lifecycle>;

const short = (s: string): string => s.replace(/^127\.0\.0\./, '.');

/** A step the command runs; `race` composes two of them. */
interface Action {
  readonly text: string;
  /** The store goes down during it. */
  readonly storeDown?: boolean;
  step(lc: Lifecycle): Step;
}

class Run implements LifecycleCommand {
  readonly #action: Action;
  constructor(action: Action) {
    this.#action = action;
  }
  check(): boolean {
    return true;
  }
  async run(_m: Slot, lc: Lifecycle): Promise<void> {
    lc.log.push(this.#action.text);
    const t0 = Date.now();
    await this.#action.step(lc)();
    const t1 = Date.now();
    await lc.check();
    const name = this.#action.text.replace(/\(.*/, '');
    Lifecycle.count(`steps: ${name}`);
    Lifecycle.count(`ms in steps: ${name}`, t1 - t0);
    Lifecycle.count(`ms in checks after: ${name}`, Date.now() - t1);
  }
  toString(): string {
    return this.#action.text;
  }
}

/** A handshake. */
export const connect = (p: ConnectParams): Action => ({
  text: `connect(${p.instance}, ${short(p.ip)}, ${p.cred ? `${p.cred.user}:${p.cred.kind}` : 'none'}, /ws/${p.pathUser}${p.origin === 'app' ? '' : `, origin ${p.origin}`})`,
  step: (lc) => () => lc.connect(p),
});

/** A frame on the k-th open socket. */
export const frame = (k: number, p: FrameParams): Action => ({
  text: `frame(#${k}, ${p.kind}${p.cred ? ` ${p.cred.user}:${p.cred.kind}` : ''})`,
  step: (lc) => () => lc.send(k, p),
});

/** A flood of `n` frames. */
export const flood = (k: number, n: number): Action => ({
  text: `flood(#${k}, ${n})`,
  step: (lc) => () => lc.flood(k, n),
});

/** `guard.refresh`. */
export const refresh = (k: number, user: string, kind: TokenKind): Action => ({
  text: `refresh(#${k}, ${user}:${kind})`,
  step: (lc) => () => lc.refresh(k, user, kind),
});

/** `guard.ban`. */
export const ban = (i: 0 | 1, subject: Subject, id: string): Action => ({
  text: `ban(${i}, ${subject} ${short(id)})`,
  step: (lc) => () => lc.ban(i, subject, id),
});

/** `guard.unban`. */
export const unban = (i: 0 | 1, subject: Subject, id: string): Action => ({
  text: `unban(${i}, ${subject} ${short(id)})`,
  step: (lc) => () => lc.unban(i, subject, id),
});

/** `guard.kick`. */
export const kick = (i: 0 | 1, user: string): Action => ({
  text: `kick(${i}, ${user})`,
  step: (lc) => async () => lc.kick(i, user),
});

/** The client closes. */
export const close = (k: number): Action => ({
  text: `close(#${k})`,
  step: (lc) => async () => lc.close(k),
});

/** The store goes down or comes back. */
export const store = (up: boolean): Action => ({
  text: up ? 'store up' : 'store down',
  ...(up ? {} : { storeDown: true }),
  step: (lc) => () => lc.store(up),
});

/** Instance `i`'s link to Redis is held back, or let through again (hand-written sequences). */
export const hold = (i: 0 | 1, held: boolean): Action => ({
  text: `${held ? 'hold' : 'release'} link ${i}`,
  step: (lc) => async () => lc.hold(i, held),
});

/** Time passes. */
export const wait = (ms: number): Action => ({
  text: `wait(${ms})`,
  step: (lc) => () => lc.wait(ms),
});

/** `b` starts `ticks` turns after `a`. */
export const race = (a: Action, b: Action, ticks: number): Action => ({
  text: `race(${a.text}, ${b.text}, ${ticks})`,
  step: (lc) => () => lc.race(a.step(lc), b.step(lc), ticks, Boolean(a.storeDown || b.storeDown)),
});

/** `b` right after `a`, with no settling or checking in between. */
export const andThen = (a: Action, b: Action): Action => ({
  text: `${a.text} then ${b.text}`,
  step: (lc) => () => lc.sequence(a.step(lc), b.step(lc)),
});

/** A command from an action (for hand-written sequences). */
export const command = (a: Action): LifecycleCommand => new Run(a);

// ---- arbitraries ---------------------------------------------------------------------------

const instance = fc.constantFrom<0 | 1>(0, 1);
const ip = fc.constantFrom(...IPS);
const user = fc.constantFrom(...USERS);
const tokenKind = fc.constantFrom<TokenKind>('long', 'long', 'long', 'short', 'expired', 'forged');
const cred = fc.record({ user, kind: tokenKind });
const k = fc.nat(15);

const connectParams: fc.Arbitrary<ConnectParams> = fc
  .record({
    instance,
    ip,
    cred: fc.option(cred, { freq: 3, nil: undefined }),
    otherPath: fc.oneof(
      { weight: 5, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: user },
    ),
    origin: fc.constantFrom<'app' | 'none' | 'foreign'>('app', 'app', 'app', 'none', 'foreign'),
  })
  .map(({ otherPath, ...p }) => ({
    ...p,
    pathUser: otherPath ?? p.cred?.user ?? 'alice',
  }));

const frameParams: fc.Arbitrary<FrameParams> = fc
  .record({
    kind: fc.constantFrom<FrameKind>('ok', 'ok', 'admin', 'malformed', 'big', 'auth', 'auth'),
    cred,
  })
  .map(({ kind, cred }) => (kind === 'auth' ? { kind, cred } : { kind }));

const subjectId = fc.oneof(
  ip.map((id) => ({ subject: 'ip' as const, id })),
  user.map((id) => ({ subject: 'user' as const, id })),
);

const connectA = connectParams.map(connect);
const frameA = fc.tuple(k, frameParams).map(([n, p]) => frame(n, p));
const authA = fc.tuple(k, cred).map(([n, c]) => frame(n, { kind: 'auth', cred: c }));
const refreshA = fc.tuple(k, user, tokenKind).map(([n, u, t]) => refresh(n, u, t));
const banA = fc.tuple(instance, subjectId).map(([i, s]) => ban(i, s.subject, s.id));
const kickA = fc.tuple(instance, user).map(([i, u]) => kick(i, u));
const closeA = k.map(close);

/** Every command, weighted. */
export function lifecycleCommands(options: {
  waits: readonly number[];
}): fc.Arbitrary<LifecycleCommand>[] {
  const weighted = (weight: number, arb: fc.Arbitrary<Action>) =>
    Array.from({ length: weight }, () => arb.map((a) => new Run(a) as LifecycleCommand));
  return [
    ...weighted(6, connectA),
    ...weighted(5, frameA),
    ...weighted(
      1,
      fc.tuple(k, fc.integer({ min: 5, max: 40 })).map(([n, c]) => flood(n, c)),
    ),
    ...weighted(2, refreshA),
    ...weighted(1, banA),
    ...weighted(
      1,
      fc.tuple(instance, subjectId).map(([i, s]) => unban(i, s.subject, s.id)),
    ),
    ...weighted(1, kickA),
    ...weighted(2, closeA),
    ...weighted(1, fc.constant(store(false))),
    ...weighted(2, fc.constant(store(true))),
    ...weighted(1, fc.constantFrom(...options.waits).map(wait)),
    ...weighted(
      3,
      fc
        .tuple(
          fc.oneof(authA, authA, connectA, refreshA),
          fc.oneof(closeA, kickA, banA, fc.constant(store(false)), refreshA),
          fc.integer({ min: 0, max: MICROTASK_TICKS + 6 }),
        )
        .map(([a, b, t]) => race(a, b, t)),
    ),
    ...weighted(
      1,
      fc
        .tuple(fc.oneof(connectA, authA), fc.oneof(closeA, kickA, banA, refreshA))
        .map(([a, b]) => andThen(a, b)),
    ),
  ];
}
