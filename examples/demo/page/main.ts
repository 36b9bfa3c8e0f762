/**
 * The demo page: log in, join a room, chat over a typed tRPC subscription, and (as admin) watch
 * the guard's decisions live, with the admin view (`admin-panel.ts`). Bundled for the browser by `examples/demo/build.ts`. Untrusted text
 * is rendered with `textContent` only, under a strict CSP.
 */
import { createTRPCClient, wsLink } from '@trpc/client';
import {
  createGuardedWSClient,
  FeedErrorCode,
  feedErrorCode,
  feedResumeLink,
  type GuardedWSClient,
} from '../../../src/client.ts';
import type { DemoRouter } from '../router.ts';
import { startAdminPanel } from './admin-panel.ts';
import { describeError, ROOM_SENTENCE } from './errors.ts';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const banner = $<HTMLParagraphElement>('banner');

interface Session {
  user: string;
  token: string;
  refresh: string;
}

let session: Session | undefined;
let ws: GuardedWSClient | undefined;
let trpc: ReturnType<typeof createTRPCClient<DemoRouter>> | undefined;
let roomSub: { unsubscribe(): void } | undefined;
/** Stops the admin panel (its subscription and timers) before a reconnect starts it again. */
let stopAdmin: (() => void) | undefined;
/** The message being sent (or retried), with its id. */
let pending: { room: string; text: string; id: string } | undefined;

function say(text: string, kind: 'ok' | 'warn' | 'bad' = 'warn'): void {
  banner.hidden = false;
  banner.textContent = text;
  banner.className = kind;
}

function setConn(text: string): void {
  $('conn').textContent = text;
}

async function post(path: string, body: unknown, token?: string): Promise<Response> {
  return fetch(path, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
}

async function refreshToken(): Promise<string> {
  if (!session) throw new Error('not logged in');
  const res = await post('/auth/refresh', { refresh: session.refresh });
  if (!res.ok) throw new Error(`refresh failed: ${res.status}`);
  const body = (await res.json()) as { token: string; refresh: string };
  session.token = body.token;
  session.refresh = body.refresh;
  say('Token refreshed; the connection carries on.', 'ok');
  return body.token;
}

async function getTicket(): Promise<string> {
  if (!session) throw new Error('not logged in');
  const res = await fetch('/ws/ticket', {
    method: 'POST',
    headers: { authorization: `Bearer ${session.token}` },
  });
  if (res.status === 401) {
    await refreshToken();
    return getTicket();
  }
  if (!res.ok) throw new Error(`ticket refused: ${res.status}`);
  return ((await res.json()) as { ticket: string }).ticket;
}

function tokenLifetimeMs(token: string): number {
  try {
    const p = JSON.parse(
      atob((token.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/')),
    ) as { exp: number; iat: number };
    return (p.exp - p.iat) * 1000;
  } catch {
    return 900_000;
  }
}

function wsUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

function connect(): void {
  if (!session) return;
  ws = createGuardedWSClient({
    url: wsUrl(),
    getTicket,
    refreshToken,
    refreshInBand: (token) => trpc!.session.refresh.mutate({ token }),
    // Refresh a quarter of the lifetime before expiry, at most 30 s before.
    refreshBeforeMs: Math.min(30_000, tokenLifetimeMs(session.token) / 4),
    onOpen: () => setConn('connected'),
    onClose: ({ code, action }) => {
      setConn(`closed ${code}`);
      if (code === 4002) say('Token expired: refreshing and reconnecting…');
      else if (code === 4008) say('Too many connections: backing off.');
      else if (code === 4029) say('Slow down: rate limit hit, backing off.');
      else if (action === 'backoff') say(`Connection lost (${code}); retrying with backoff.`);
    },
    onAuthError: ({ code, reason }) => {
      setConn('stopped');
      say(
        code === 4030
          ? `Banned: ${reason}`
          : code === 4003
            ? `Access refused: ${reason}`
            : 'Please log in again.',
        'bad',
      );
    },
    onStop: (stop) => {
      // The client stays stopped until we say otherwise: after a ban, once it has ended.
      if (stop.kind === 'banned' && stop.until !== undefined) {
        setConn('banned');
        const wait = Math.max(0, stop.until - Date.now()) + 1000;
        setTimeout(() => {
          if (ws?.restart()) say('The ban has ended: reconnecting.');
        }, wait);
      } else if (stop.kind === 'gave-up') {
        setConn('stopped');
        say('Could not reconnect; reload the page to try again.', 'bad');
      }
    },
  });
  // feedResumeLink: a subscription the server ended with "resume" (it fell behind) resubscribes
  // from its last id by itself; "reload" reaches the subscription's onError below.
  trpc = createTRPCClient<DemoRouter>({
    links: [feedResumeLink(), wsLink({ client: ws.client })],
  });
  join(($('join-form') as HTMLFormElement).room.value);
  if (session.user === 'admin') startAdmin();
}

function join(room: string): void {
  if (!trpc) return;
  roomSub?.unsubscribe();
  const list = $('messages');
  list.replaceChildren();
  $('room-name').textContent = room;
  roomSub = trpc.chat.onMessage.subscribe(
    { room },
    {
      onData: ({ id, data }) => {
        const li = document.createElement('li');
        li.dataset['id'] = id;
        const who = document.createElement('span');
        who.className = 'user';
        who.textContent = data.user;
        const text = document.createElement('span');
        text.textContent = data.text;
        li.append(who, text);
        list.append(li);
        li.scrollIntoView({ block: 'nearest' });
      },
      onError: (err) => {
        if (feedErrorCode(err) === FeedErrorCode.Reload) {
          // Messages this page missed are no longer held: show the room as it is now.
          say(`Some messages of ${room} are no longer available; reloaded the room.`, 'warn');
          join(room);
          return;
        }
        say(`Subscription ended: ${describeError(err)}`, 'bad');
      },
    },
  );
}

function startAdmin(): void {
  if (!trpc || !session) return;
  stopAdmin?.();
  stopAdmin = startAdminPanel({
    trpc,
    token: () => session?.token ?? '',
    getTicket,
    wsUrl: wsUrl(),
    say,
    // A new client: the stopped one holds to the ban's end it was told (restart() refuses).
    restart: () => {
      const old = ws;
      void old?.close();
      connect();
    },
  });
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.currentTarget as HTMLFormElement;
  const username = (form.elements.namedItem('username') as HTMLInputElement).value;
  const password = (form.elements.namedItem('password') as HTMLInputElement).value;
  const res = await post('/auth/login', { username, password });
  if (!res.ok) {
    say(
      res.status === 429 ? 'Too many attempts; wait a minute.' : 'Wrong user name or password.',
      'bad',
    );
    return;
  }
  const body = (await res.json()) as { token: string; refresh: string };
  session = { user: username, token: body.token, refresh: body.refresh };
  $('who').textContent = username;
  $('login').hidden = true;
  $('chat').hidden = false;
  say(`Logged in as ${username}.`, 'ok');
  connect();
});

$('join-form').addEventListener('submit', (e) => {
  e.preventDefault();
  join(((e.currentTarget as HTMLFormElement).elements.namedItem('room') as HTMLInputElement).value);
});

$('send-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = (e.currentTarget as HTMLFormElement).elements.namedItem('text') as HTMLInputElement;
  const room = $('room-name').textContent ?? 'lobby';
  const text = input.value;
  // One id per message, kept while it is being retried: a send that failed may have gone through
  // (timed out, connection lost), and the server appends a retry with the same id only once.
  if (pending?.room !== room || pending.text !== text)
    pending = { room, text, id: crypto.randomUUID() };
  try {
    await trpc?.chat.send.mutate(pending);
    pending = undefined;
    input.value = '';
  } catch (err) {
    say(`Not sent: ${describeError(err)}`, 'bad');
  }
});

$('kick-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const userId = (
    (e.currentTarget as HTMLFormElement).elements.namedItem('userId') as HTMLInputElement
  ).value;
  try {
    const r = await trpc?.admin.kick.mutate({ userId });
    say(`Kicked ${userId}: ${r?.closed ?? 0} connection(s) closed.`, 'ok');
  } catch (err) {
    say(`Not kicked: ${describeError(err)}`, 'bad');
  }
});

// The browser refuses a room name its pattern does not match, before any request: say why, in
// the same words as the server's refusal.
$('join-form').addEventListener('invalid', () => say(ROOM_SENTENCE, 'bad'), true);
