/**
 * The demo app, runtime-free: the guard, the tRPC bridge, and a fetch handler for the HTTP routes
 * fixed in DESIGN.md. `server.node.ts`, `server.bun.ts` and `server.deno.ts` serve it.
 *
 * Routes: GET / (page), POST /auth/login, POST /auth/refresh, POST /ws/ticket, GET /ws/stats
 * (admin), GET /metrics (bearer `metricsToken`), GET /healthz, POST /admin/unban-me (admin: lift
 * the ban on one's own address, after trying the attack panel); the WebSocket at /ws is handled by
 * the adapter. Every body is bounded while it is read (413), never read whole first.
 */
import { SignJWT } from 'jose';
import {
  type AuditEvent,
  createGuard,
  type Guard,
  healthHandler,
  json,
  metricsHandler,
  STRICT_CSP,
  type Store,
  statsHandler,
  ticketHandler,
  withSecurityHeaders,
} from '../../src/mod.ts';
import { readJson } from '../../src/transport/body.ts';
import { bodyRefused } from '../../src/transport/http.ts';
import { createTRPCBridge, type TRPCBridge } from '../../src/trpc.ts';
import { AdminBooks } from './admin/overview.ts';
import { sessionBook } from './admin/session-book.ts';
import { unbanMeHandler } from './admin/unban-me.ts';
import type { EventFeed } from './event-feed.ts';
import { Feed } from './feed.ts';
import { type ChatMessage, createDemoRouter } from './router.ts';

/** Demo users: each password is the user name. */
export const DEMO_USERS: Readonly<Record<string, readonly string[]>> = {
  alice: ['user'],
  bob: ['user'],
  admin: ['admin'],
};

/** Options for {@link createDemoApp}. */
export interface DemoOptions {
  /** Allowed origins (the server's own plus `WSGUARD_ORIGINS`). */
  readonly origins: readonly string[];
  /** JWT secret (≥ 32 bytes). */
  readonly secret: string;
  /** Access-token lifetime in seconds. @default 900 */
  readonly tokenTtlSec?: number;
  /** Bearer token `/metrics` asks for (`WSGUARD_METRICS_TOKEN`, generated at start when unset). */
  readonly metricsToken: string;
  /** Store (memory by default, Redis when `REDIS_URL` is set). */
  readonly store?: Store;
  /**
   * The chat's feed: in this process by default; on Redis Streams when `REDIS_URL` is set
   * (`backend.ts`), so that every instance of a deployment carries the same rooms. Its owner
   * closes it.
   */
  readonly chat?: EventFeed<ChatMessage>;
  /** Static files served at `/`, `/app.js`, `/app.css`. */
  readonly assets: Readonly<Record<string, { readonly type: string; readonly body: string }>>;
}

/** The assembled demo. */
export interface DemoApp {
  readonly guard: Guard;
  readonly bridge: TRPCBridge;
  /** HTTP routes. `ip` is the client address the adapter resolved. */
  fetch(request: Request, ip?: string): Promise<Response>;
}

const ISSUER = 'wsguard-demo';

function constantTimeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

/** Login and refresh bodies are a few short strings: 4 KiB is plenty, and all that is ever read. */
const AUTH_BODY = { maxBytes: 4096, timeoutMs: 5000 } as const;

/** Build the demo app. */
export function createDemoApp(options: DemoOptions): DemoApp {
  const key = new TextEncoder().encode(options.secret);
  const ttl = options.tokenTtlSec ?? 900;
  const audit = new Feed<AuditEvent>(200);
  const chat = options.chat ?? new Feed<ChatMessage>(500);
  const refreshTokens = new Map<string, { sub: string; expiresAt: number }>();
  // The admin view's books: this instance's refusals, bans and traffic, from the audit events.
  const books = new AdminBooks();

  const guard = createGuard({
    origins: options.origins,
    jwt: { algorithms: ['HS256'], secret: options.secret, issuer: ISSUER },
    tickets: { ttlMs: 30_000 },
    credentials: { header: true, query: true, firstMessage: true },
    permissions: { roles: { user: ['chat.*'], admin: ['*'] } },
    messages: { passthrough: ['PING', 'PONG'] },
    ...(options.store ? { store: options.store } : {}),
    audit: (event) => {
      books.record(event);
      void audit.publish('audit', event);
    },
  });
  const sessions = sessionBook(
    createTRPCBridge({
      router: createDemoRouter({
        chat,
        audit,
        kick: async (userId) => guard.kick(userId),
        overview: () => books.overview(guard, sessions),
        unban: (subject, id) => books.unban(guard, subject, id),
      }),
      guard,
    }),
  );
  const bridge = sessions.bridge;

  const issue = async (
    sub: string,
  ): Promise<{ token: string; refresh: string; expiresIn: number }> => {
    const token = await new SignJWT({ roles: [...(DEMO_USERS[sub] ?? [])] })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(sub)
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttl)
      .sign(key);
    const refresh = randomToken();
    refreshTokens.set(refresh, { sub, expiresAt: Date.now() + 12 * 3600_000 });
    return { token, refresh, expiresIn: ttl };
  };

  const tickets = ticketHandler(guard);
  const stats = statsHandler(guard);
  const metrics = metricsHandler(guard, { token: options.metricsToken });
  const health = healthHandler();
  const unbanMe = unbanMeHandler(guard, books);
  const loginRule = { limit: 10, windowMs: 60_000 };

  const asset = (name: string): Response => {
    const a = options.assets[name];
    if (!a) return json({ error: 'not found' }, 404);
    return withSecurityHeaders(
      new Response(a.body, { headers: { 'content-type': a.type, 'cache-control': 'no-cache' } }),
      a.type.startsWith('text/html') ? STRICT_CSP : undefined,
    );
  };

  return {
    guard,
    bridge,
    async fetch(request: Request, ip = '0.0.0.0'): Promise<Response> {
      const { pathname } = new URL(request.url);
      const method = request.method;
      if (method === 'GET' && (pathname === '/' || pathname === '/index.html'))
        return asset('/index.html');
      if (method === 'GET' && (pathname === '/app.js' || pathname === '/app.css'))
        return asset(pathname);
      if (pathname === '/healthz') return health(request);
      if (pathname === '/metrics') return metrics(request);
      if (pathname === '/ws/stats') return stats(request);
      if (pathname === '/ws/ticket') return tickets(request, ip);
      if (pathname === '/admin/unban-me') return unbanMe(request, ip);
      if (pathname === '/auth/login' || pathname === '/auth/refresh') {
        if (method !== 'POST') return json({ error: 'method not allowed' }, 405, { allow: 'POST' });
        // The page posts JSON from its own origin; another site's form cannot (and may not).
        if (!guard.checkOrigin(request.headers.get('origin')))
          return json({ error: 'origin not allowed' }, 403);
        const limited = await guard.store.limit(`login:${ip}`, loginRule).catch(() => undefined);
        if (!limited) return json({ error: 'service unavailable' }, 503, { 'retry-after': '5' });
        if (!limited.allowed) {
          return json({ error: 'too many attempts' }, 429, {
            'retry-after': String(Math.ceil(limited.retryAfterMs / 1000)),
          });
        }
        const read = await readJson(request, AUTH_BODY);
        if (!read.ok) return bodyRefused(read);
        const body = read.value;
        if (typeof body !== 'object' || body === null || Array.isArray(body))
          return json({ error: 'JSON object required' }, 400);
        if (pathname === '/auth/login') {
          const { username, password } = body as Record<string, unknown>;
          if (
            typeof username !== 'string' ||
            typeof password !== 'string' ||
            !Object.hasOwn(DEMO_USERS, username)
          ) {
            return json({ error: 'invalid username or password' }, 401);
          }
          if (!constantTimeEqual(password, username))
            return json({ error: 'invalid username or password' }, 401);
          return json(await issue(username));
        }
        const refresh = (body as Record<string, unknown>)['refresh'];
        const held = typeof refresh === 'string' ? refreshTokens.get(refresh) : undefined;
        // Rotating refresh tokens: each is used once.
        if (typeof refresh === 'string') refreshTokens.delete(refresh);
        if (!held || held.expiresAt < Date.now())
          return json({ error: 'invalid refresh token' }, 401);
        return json(await issue(held.sub));
      }
      if (pathname === '/ws')
        return json({ error: 'WebSocket upgrade required' }, 426, { upgrade: 'websocket' });
      return json({ error: 'not found' }, 404);
    },
  };
}
