/**
 * A bound on how many calls of one kind run at once, the rest waiting in order. For bursts the
 * guard makes itself (every lease renewed each interval, or released when an instance drops all
 * its sockets at once): sent in one go, they queue behind each other on the store's one
 * connection and the last outlive the command timeout, though the store is fine.
 *
 * @module
 */

/** At most `width` calls at once; the others start, in order, as those end. */
export class Lanes {
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  readonly #width: number;

  constructor(width: number) {
    this.#width = Math.max(1, width);
  }

  /** Calls running now. */
  get running(): number {
    return this.#running;
  }

  /** Calls waiting for a lane. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Run `call` in a lane: at once when one is free, else when its turn comes. Never rejects: a
   * failure goes to `onError`. (One `then` per call: this runs on every close.)
   */
  run(call: () => Promise<unknown>, onError: (error: unknown) => void): Promise<void> {
    if (this.#running < this.#width) return this.#start(call, onError);
    return new Promise<void>((resolve) => this.#waiting.push(resolve)).then(() =>
      this.#start(call, onError),
    );
  }

  #start(call: () => Promise<unknown>, onError: (error: unknown) => void): Promise<void> {
    this.#running++;
    const free = (): void => {
      this.#running--;
      this.#waiting.shift()?.();
    };
    let result: Promise<unknown>;
    try {
      result = call();
    } catch (error) {
      free();
      onError(error);
      return Promise.resolve();
    }
    return result.then(free, (error: unknown) => {
      free();
      onError(error);
    });
  }
}
