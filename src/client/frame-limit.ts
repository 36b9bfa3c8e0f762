/**
 * Frames the client sends stay within the server's limits. tRPC's WebSocket client sends every
 * call made in one tick as one frame, so a burst (80 mutations of 1 KB) becomes one frame over the
 * guard's 64 KiB limit: the server closes 1009 and every call in it fails. The batch is split
 * instead, by size and by count, into frames the server accepts, in the calls' order.
 *
 * @module
 */
import type { TRPCWebSocketClient } from '@trpc/client';

const encoder = new TextEncoder();

/** UTF-8 length of `text`, computed only when its UTF-16 length cannot settle the question. */
function byteLength(text: string, limit: number): number {
  return text.length * 3 <= limit ? text.length : encoder.encode(text).length;
}

/**
 * Make `client.send` split a batch into frames of at most `maxBytes` (as JSON) and `maxBatch`
 * messages. A single message over `maxBytes` is sent as it is: the server closes 1009, and the
 * client stops with kind `too-big` (a message that large is the app's bug, not the batch's).
 */
export function limitFrames(client: TRPCWebSocketClient, maxBytes: number, maxBatch: number): void {
  // `send` is private in tRPC's types, but it is the one path every outgoing frame takes
  // (requests, batches, resubscriptions); its behaviour is pinned by tests/client/frame-limit.
  const target = client as unknown as { send(messageOrMessages: unknown): void };
  const send = target.send.bind(client);
  target.send = (messageOrMessages: unknown): void => {
    if (!Array.isArray(messageOrMessages) || messageOrMessages.length <= 1) {
      send(messageOrMessages);
      return;
    }
    let chunk: unknown[] = [];
    // Two bytes of brackets, one comma per message after the first.
    let size = 1;
    for (const message of messageOrMessages) {
      const n = byteLength(JSON.stringify(message), maxBytes) + 1;
      if (chunk.length > 0 && (size + n > maxBytes || chunk.length >= maxBatch)) {
        send(chunk);
        chunk = [];
        size = 1;
      }
      chunk.push(message);
      size += n;
    }
    if (chunk.length > 0) send(chunk);
  };
}
