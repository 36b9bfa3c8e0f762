/**
 * Requests over a child process's IPC channel: the driver asks, the child answers with the same
 * `id`. Every request is bounded in time, so a stuck child fails the phase instead of the run
 * hanging.
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';

/** A request: an operation and its arguments. */
export interface IpcRequest {
  readonly op: string;
  readonly [key: string]: unknown;
}

interface Envelope {
  readonly id: number;
  readonly reply?: unknown;
  readonly error?: string;
}

/** The driver's side: `ask(child, request)` resolves with the child's reply. */
export function createAsker(): (
  child: ChildProcess,
  request: IpcRequest,
  timeoutMs?: number,
) => Promise<unknown> {
  let next = 0;
  const pending = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();
  const hooked = new WeakSet<ChildProcess>();
  return (child, request, timeoutMs = 120_000) => {
    if (!hooked.has(child)) {
      hooked.add(child);
      child.on('message', (m: Envelope) => {
        const p = pending.get(m.id);
        if (!p) return;
        pending.delete(m.id);
        if (m.error !== undefined) p.fail(new Error(m.error));
        else p.ok(m.reply);
      });
    }
    const id = ++next;
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        fail(new Error(`${request.op}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, {
        ok: (v) => {
          clearTimeout(timer);
          ok(v);
        },
        fail: (e) => {
          clearTimeout(timer);
          fail(e);
        },
      });
      child.send({ id, ...request });
    });
  };
}

/** The child's side: answer every request with `handle`'s result (or its error's message). */
export function answer(handle: (request: IpcRequest) => Promise<unknown>): void {
  process.on('message', (m: IpcRequest & { id: number }) => {
    handle(m).then(
      (reply) => process.send?.({ id: m.id, reply }),
      (error: unknown) =>
        process.send?.({ id: m.id, error: error instanceof Error ? error.message : String(error) }),
    );
  });
  // The driver gone (its IPC channel closed) means the run is over: never outlive it.
  process.on('disconnect', () => process.exit(0));
}
