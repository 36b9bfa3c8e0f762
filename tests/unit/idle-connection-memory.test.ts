/**
 * What an idle connection keeps, piece by piece (issue 17, round 3): each piece is made 20,000
 * times and held, and the heap after a full GC is divided by the count. The bounds sit between the
 * sizes before round 3 and after it (heap snapshot figures in docs/benchmarks.md), so a change
 * that brings back the old shape fails here:
 *
 * - a principal's `roles` copied with `filter` kept a 17-slot backing store for one role;
 * - `randomId` built its 16 characters with `+=`: a cons string and its two halves (88 B);
 * - the memory store kept a `Map` per lease key, ~200 B for the usual single lease;
 * - the transport's `PeerState` and the tRPC bridge's session carried a field per flag.
 */
import { describe, expect, it } from 'vitest';
import { principalFromClaims } from '../../src/auth/principal.ts';
import { randomId } from '../../src/core/encoding.ts';
import type { GuardConnection } from '../../src/state/connection.ts';
import { createMemoryStore } from '../../src/store/memory.ts';
import { createPeerState } from '../../src/transport/peer-state.ts';
import { openSession } from '../../src/trpc/session.ts';
import type { TRPCSocket } from '../../src/trpc/types.ts';
import { heapAfterGc } from '../fixtures/heap.ts';

const N = 20_000;

/** Bytes each of `N` values made by `make` keeps, held in an array sized beforehand. */
function bytesEach(make: (i: number) => unknown): number {
  const held: unknown[] = new Array(N).fill(undefined);
  const before = heapAfterGc();
  for (let i = 0; i < N; i++) held[i] = make(i);
  const after = heapAfterGc();
  expect(held[N - 1]).toBeDefined();
  return (after - before) / N;
}

describe('idle connection memory, piece by piece', () => {
  it("a principal with one role keeps no spare slots (was 288 B: 'roles' had 17 slots)", () => {
    const claims = { sub: 'bench', roles: ['bench'], exp: 2_000_000_000 };
    const bytes = bytesEach(() => principalFromClaims(claims));
    console.log(`principal: ${bytes.toFixed(0)} B`);
    expect(bytes).toBeLessThan(200);
    expect(principalFromClaims(claims)?.roles).toEqual(['bench']);
  });

  it('randomId returns a flat string (was 88 B: a cons string and its halves)', () => {
    const bytes = bytesEach(() => randomId());
    console.log(`randomId: ${bytes.toFixed(0)} B`);
    expect(bytes).toBeLessThan(48);
    expect(randomId()).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });

  it('the memory store keeps a key with one lease without a Map (was ~260 B a key)', async () => {
    const store = createMemoryStore();
    const keys = Array.from({ length: N }, (_, i) => `lease:ip:10.${i >> 8}.${i & 255}.1`);
    const ids = Array.from({ length: N }, (_, i) => `lease-id-${i}`);
    const before = heapAfterGc();
    for (let i = 0; i < N; i++) await store.acquireLease(keys[i]!, ids[i]!, 20, 30_000);
    const bytes = (heapAfterGc() - before) / N;
    console.log(`memory store, one lease a key: ${bytes.toFixed(0)} B`);
    expect(bytes).toBeLessThan(140);
    expect(await store.countLeases(keys[N - 1]!)).toBe(1);
  });

  it("the transport's PeerState packs its flags (was 128 B)", () => {
    const connection = {} as GuardConnection;
    const bytes = bytesEach(() => createPeerState(connection));
    console.log(`PeerState: ${bytes.toFixed(0)} B`);
    expect(bytes).toBeLessThan(100);
  });

  it("the bridge's idle session keeps its rarely set fields apart (was 96 B)", () => {
    const socket: TRPCSocket = { send: () => undefined, close: () => undefined };
    const connection = {} as GuardConnection;
    const bytes = bytesEach(() => openSession(new Set(), socket, connection));
    console.log(`session: ${bytes.toFixed(0)} B`);
    expect(bytes).toBeLessThan(80);
  });
});
