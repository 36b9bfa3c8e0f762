/**
 * The wait for a client's first connection. With `REDIS_CLIENT_OPTIONS` (no offline queue)
 * ioredis refuses every command until it is connected, so a store used right after
 * `new Redis(url)` failed its first calls ("Stream isn't writeable"). Until the client has been
 * ready once, a call waits for it, within the call's own bound. Once it has been ready, nothing
 * waits: a later outage fails each call at once, which is what lets the guard fail closed fast.
 *
 * @module
 */

/** The parts of an ioredis client this reads; any other client is taken as ready. */
interface StatefulClient {
  readonly status?: string;
  once?(event: 'ready', listener: () => void): unknown;
}

// ioredis's states before (and while) it first connects.
const CONNECTING = new Set(['wait', 'connecting', 'connect']);

/** One client's first `ready`, awaited by calls made before it. */
export class FirstReady {
  readonly #client: StatefulClient;
  #ready = false;
  #waiting: Promise<void> | undefined;

  /** Watches `client`'s status (ioredis); a client without one is ready. */
  constructor(client: object) {
    this.#client = client as StatefulClient;
  }

  /** A promise to await before a call, or `undefined` (the hot path) when there is nothing to wait for. */
  pending(): Promise<void> | undefined {
    if (this.#ready) return undefined;
    const { status, once } = this.#client;
    if (status === undefined || once === undefined || !CONNECTING.has(status)) {
      // Ready, or a state a wait cannot help (ended, reconnecting after a first connection).
      if (status === 'ready' || status === undefined) this.#ready = true;
      return undefined;
    }
    this.#waiting ??= new Promise<void>((resolve) => {
      once.call(this.#client, 'ready', () => {
        this.#ready = true;
        this.#waiting = undefined;
        resolve();
      });
    });
    return this.#waiting;
  }
}
