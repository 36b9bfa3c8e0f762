/**
 * Frames the client sends stay within the server's limits. tRPC's WebSocket client sends every
 * call made in one tick as one frame, so a burst (80 mutations of 1 KB) becomes one frame over the
 * guard's 64 KiB limit: the server closes 1009 and every call in it fails. The batch is split
 * instead, by size and by count, into frames the server accepts, in the calls' order. A single
 * call too large for any frame is failed on its own with {@link MessageTooLargeError} and never
 * sent: the server would close the socket (1009) and end every other call with it.
 *
 * @module
 */
import { TRPCClientError, type TRPCWebSocketClient } from '@trpc/client';

/**
 * A call's message is larger than the server accepts in one frame (`maxMessageBytes`): it was
 * not sent, and the socket and the other calls go on. The `cause` of the call's `TRPCClientError`.
 */
export class MessageTooLargeError extends Error {
  /** The message's size as sent (UTF-8 bytes of its JSON). */
  readonly bytes: number;
  /** The client's `maxMessageBytes`. */
  readonly limit: number;

  /** A message of `bytes` over `limit`. */
  constructor(bytes: number, limit: number) {
    super(`message of ${bytes} B over the ${limit} B limit; not sent`);
    this.name = 'MessageTooLargeError';
    this.bytes = bytes;
    this.limit = limit;
  }
}

/** The parts of tRPC's private request bookkeeping used to fail one call (as tRPC itself does). */
interface Requests {
  getPendingRequest(
    id: unknown,
  ): { message: unknown; callbacks: { error(e: unknown): void } } | undefined;
  delete(message: unknown): void;
}

const encoder = new TextEncoder();

/** UTF-8 length of `text`, computed only when its UTF-16 length cannot settle the question. */
function byteLength(text: string, limit: number): number {
  return text.length * 3 <= limit ? text.length : encoder.encode(text).length;
}

/**
 * Make `client.send` split a batch into frames of at most `maxBytes` (as JSON) and `maxBatch`
 * messages, and fail a call whose message alone is over `maxBytes` instead of sending it.
 */
export function limitFrames(client: TRPCWebSocketClient, maxBytes: number, maxBatch: number): void {
  // `send` and `requestManager` are private in tRPC's types, but `send` is the one path every
  // outgoing frame takes (requests, batches, resubscriptions), and tRPC fails a request it could
  // not send the same way (delete, then its error callback); pinned by tests/client/frame-limit.
  const target = client as unknown as { send(messageOrMessages: unknown): void };
  const requests = (client as unknown as { requestManager?: Requests }).requestManager;
  const send = target.send.bind(client);
  /** Fail the call of `message`, over the limit; false when it is not a call tRPC tracks. */
  const refuse = (message: unknown, bytes: number): boolean => {
    const request = requests?.getPendingRequest((message as { id?: unknown } | null)?.id ?? null);
    if (request === undefined || request.message !== message) return false;
    requests!.delete(message);
    request.callbacks.error(TRPCClientError.from(new MessageTooLargeError(bytes, maxBytes)));
    return true;
  };
  target.send = (messageOrMessages: unknown): void => {
    const messages = Array.isArray(messageOrMessages) ? messageOrMessages : [messageOrMessages];
    let chunk: unknown[] = [];
    // Two bytes of brackets, one comma per message after the first.
    let size = 1;
    for (const message of messages) {
      const bytes = byteLength(JSON.stringify(message), maxBytes);
      if (bytes > maxBytes && refuse(message, bytes)) continue;
      if (chunk.length > 0 && (size + bytes + 1 > maxBytes || chunk.length >= maxBatch)) {
        send(chunk.length === 1 ? chunk[0] : chunk);
        chunk = [];
        size = 1;
      }
      chunk.push(message);
      size += bytes + 1;
    }
    if (chunk.length > 0) send(chunk.length === 1 ? chunk[0] : chunk);
  };
}
