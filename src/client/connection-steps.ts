/**
 * The credentials of each connection attempt, as tRPC asks for them: a fresh one-time ticket in
 * the URL (`?ticket=`), or the token in `connectionParams`, each refreshed first when asked for.
 *
 * @module
 */
import type { WebSocketClientOptions } from '@trpc/client';
import type { Lifecycle } from './lifecycle.ts';
import type { TokenKeeper } from './token-keeper.ts';

/** The client options the steps read (see `GuardedWSClientOptions`). */
export interface StepOptions {
  /** The socket URL, without credentials. */
  readonly url: string;
  /** Fetch a one-time ticket; when absent, the token goes in `connectionParams`. */
  readonly getTicket?: () => Promise<string>;
}

/**
 * tRPC's `url` and, without tickets, `connectionParams`: each attempt begins (counted, refused
 * while stopped), fetches its credential, and is dropped if a stop or restart overtook it.
 */
export function connectionSteps(
  options: StepOptions,
  tokens: TokenKeeper,
  life: Lifecycle,
  closesSeen: () => Promise<void> | undefined,
): Pick<WebSocketClientOptions, 'url' | 'connectionParams'> {
  const { url, getTicket } = options;
  return {
    ...(getTicket
      ? {}
      : {
          connectionParams: async () => {
            const at = life.epoch;
            try {
              const current = await tokens.read();
              // Overtaken by a stop or a restart: `failed` throws the stop's error instead.
              if (at !== life.epoch) return life.failed(at, undefined);
              tokens.schedule(current);
              return { token: current };
            } catch (error) {
              return life.failed(at, error);
            }
          },
        }),
    url: async () => {
      // tRPC's constructor asks for the URL synchronously, before its client exists.
      await undefined;
      // The last socket's close may ask for a refresh this attempt must make first.
      await closesSeen();
      const at = life.begin();
      if (!getTicket) return url;
      try {
        await tokens.refreshIfAsked();
        const ticket = await getTicket();
        // Overtaken by a stop or a restart: `failed` throws the stop's error instead.
        if (at !== life.epoch) return life.failed(at, undefined);
        return `${url}${url.includes('?') ? '&' : '?'}ticket=${encodeURIComponent(ticket)}`;
      } catch (error) {
        return life.failed(at, error);
      }
    },
  };
}
