/**
 * Running the store's Lua scripts by SHA: each script is loaded once (`SCRIPT LOAD`) and run with
 * `EVALSHA`, so a call sends a 40-character SHA instead of the script's text. When Redis has
 * forgotten it (a restart, `SCRIPT FLUSH`, another cluster node) the text is sent once in full.
 *
 * @module
 */
import type { RedisClientLike } from './redis-client.ts';
import type { Script } from './redis-scripts.ts';

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/** One store's scripts on one client: the SHAs it has loaded, each loaded at most once at a time. */
export class ScriptRunner {
  readonly #client: RedisClientLike;
  readonly #shas = new Map<Script, Promise<string>>();

  /** Scripts run on `client`. */
  constructor(client: RedisClientLike) {
    this.#client = client;
  }

  /**
   * Run a script by SHA, loading it on first use. On NOSCRIPT (Redis restarted, `SCRIPT FLUSH`,
   * or another cluster node) the script is sent in full with EVAL, which runs it and caches it
   * again under the same SHA (the SHA-1 of its text): one round trip, on the node that owns the key.
   */
  async eval(
    script: Script,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    const sha = await this.#load(script);
    try {
      return await this.#client.call('EVALSHA', sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return await this.#client.call('EVAL', script.source, keys.length, ...keys, ...args);
    }
  }

  /** Forget every SHA (the store closed): a later use loads again. */
  clear(): void {
    this.#shas.clear();
  }

  #load(script: Script): Promise<string> {
    let sha = this.#shas.get(script);
    if (sha === undefined) {
      const loading = this.#client.call('SCRIPT', 'LOAD', script.source).then(String);
      sha = loading;
      this.#shas.set(script, loading);
      // A failed load (Redis down) must not be remembered: the next call tries again.
      loading.catch(() => {
        if (this.#shas.get(script) === loading) this.#shas.delete(script);
      });
    }
    return sha;
  }
}
