/**
 * One key's leases in the memory store: lease ids with their expiry, oldest first. A key usually
 * holds one lease (an IP with one connection), so one lease is kept in two fields and a `Map` is
 * made only for a second: a `Map` per key was ~230 B of every idle connection (its hash table is
 * made at its first entry), these fields 64 B. Past one lease it is the `Map` as before, insertion
 * ordered, so the oldest lease is still the first.
 *
 * @module
 */

/** The leases of one key: a `Map`-like set of lease id → expiry (ms), in insertion order. */
export class LeaseSet {
  /** The one lease, while there is at most one (`undefined`: none, or see `many`). */
  #id: string | undefined = undefined;
  #expiresAt = 0;
  /** Two leases or more, oldest first; `undefined` while there is at most one. */
  #many: Map<string, number> | undefined = undefined;

  /** How many leases it holds. */
  get size(): number {
    if (this.#many) return this.#many.size;
    return this.#id === undefined ? 0 : 1;
  }

  /** Whether it holds `id`. */
  has(id: string): boolean {
    return this.#many ? this.#many.has(id) : this.#id === id;
  }

  /** Hold `id` until `expiresAt`: a new id goes last, a held one keeps its place. */
  set(id: string, expiresAt: number): void {
    if (this.#many) this.#many.set(id, expiresAt);
    else if (this.#id === undefined || this.#id === id) {
      this.#id = id;
      this.#expiresAt = expiresAt;
    } else {
      this.#many = new Map([
        [this.#id, this.#expiresAt],
        [id, expiresAt],
      ]);
      this.#id = undefined;
    }
  }

  /** Give `id` back; down to one lease, the `Map` goes. */
  delete(id: string): void {
    const many = this.#many;
    if (!many) {
      if (this.#id === id) this.#id = undefined;
      return;
    }
    if (!many.delete(id) || many.size > 1) return;
    this.#many = undefined;
    for (const [left, expiresAt] of many) {
      this.#id = left;
      this.#expiresAt = expiresAt;
    }
  }

  /** The oldest lease's id, if any. */
  oldest(): string | undefined {
    return this.#many ? this.#many.keys().next().value : this.#id;
  }

  /** Drop the leases expired at `now`; returns how many are left. */
  prune(now: number): number {
    const many = this.#many;
    if (!many) {
      if (this.#id !== undefined && this.#expiresAt <= now) this.#id = undefined;
      return this.size;
    }
    for (const [id, expiresAt] of many) if (expiresAt <= now) this.delete(id);
    return this.size;
  }
}
