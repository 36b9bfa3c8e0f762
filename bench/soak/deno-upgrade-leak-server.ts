/**
 * The Deno side of `deno-upgrade-leak.ts`: `Deno.serve` alone, no wsguard. Each request waits
 * `DELAY` ms (an async check, as a guard's), then is answered with `Deno.upgradeWebSocket`
 * (`upgrade`) or a plain response (`plain`). A FinalizationRegistry counts the requests the
 * collector freed; `GET /mem` answers after a forced GC.
 *
 * Run by the driver: `deno run -A --v8-flags=--expose-gc deno-upgrade-leak-server.ts <mode> <delay>`.
 *
 * @module
 */
const deno = (globalThis as unknown as { Deno: DenoLike }).Deno;
interface DenoLike {
  args: string[];
  serve(
    options: { port: number; hostname: string; onListen(addr: { port: number }): void },
    handler: (request: Request) => Response | Promise<Response>,
  ): unknown;
  upgradeWebSocket(request: Request): { socket: WebSocket; response: Response };
  memoryUsage(): { rss: number; heapUsed: number };
}
const gc = (globalThis as unknown as { gc: () => void }).gc;
const [mode = 'upgrade', delay = '10'] = deno.args;
let requests = 0;
let freed = 0;
const registry = new FinalizationRegistry<number>(() => {
  freed++;
});
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

deno.serve(
  {
    port: 0,
    hostname: '127.0.0.1',
    onListen: ({ port }) => console.log(JSON.stringify({ port })),
  },
  async (request) => {
    if (new URL(request.url).pathname === '/mem') {
      for (let i = 0; i < 2; i++) {
        gc();
        await sleep(5);
      }
      const m = deno.memoryUsage();
      return Response.json({ requests, retained: requests - freed, heap: m.heapUsed, rss: m.rss });
    }
    requests++;
    registry.register(request, 0);
    await sleep(Number(delay));
    if (mode === 'plain') return new Response('ok');
    const { socket, response } = deno.upgradeWebSocket(request);
    socket.onmessage = (e) => socket.send(e.data);
    return response;
  },
);
