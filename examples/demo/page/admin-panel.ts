/**
 * The admin panel, live: the audit stream as a list, the guard's counters, and the admin view
 * (refusals, bans, penalty scores, connections, traffic chart) from `admin.overview`, redrawn within a fraction
 * of a second of each decision streamed in and every second for ages; plus the attack panel.
 */
import type { createTRPCClient } from '@trpc/client';
import type { DemoRouter } from '../router.ts';
import { renderOverview } from './admin-view.ts';
import { ATTACKS, type AttackName, runAttack } from './attacks.ts';
import { describeError } from './errors.ts';
import { drawTraffic } from './traffic-chart.ts';

/** What the panel needs from the page. */
export interface AdminPanelDeps {
  readonly trpc: ReturnType<typeof createTRPCClient<DemoRouter>>;
  readonly token: () => string;
  readonly getTicket: () => Promise<string>;
  readonly wsUrl: string;
  readonly say: (text: string, kind?: 'ok' | 'warn' | 'bad') => void;
  /** Connect the page anew after a ban on it was lifted. */
  readonly restart: () => void;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

function eventClass(type: string): string {
  if (type.includes('rejected') || type.includes('denied') || type.startsWith('ban')) {
    return type.startsWith('ban') ? 'ban' : type.includes('denied') ? 'denied' : 'rejected';
  }
  return type.includes('accepted') ? 'accepted' : '';
}

async function renderStats(token: string): Promise<void> {
  const res = await fetch('/ws/stats', { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) return;
  const s = (await res.json()) as Record<string, unknown>;
  const dl = $('stats');
  dl.replaceChildren();
  for (const [k, v] of [
    ['connections', s['connections']],
    ['users', s['users']],
    ['accepted', s['accepted']],
    [
      'rejections',
      Object.entries((s['rejections'] ?? {}) as Record<string, number>)
        .map(([reason, n]) => `${reason} ${n}`)
        .join(' · ') || 'none',
    ],
    ['messages', s['messages']],
    ['bans', s['bans']],
  ] as const) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = String(v);
    dd.dataset['stat'] = k;
    dl.append(dt, dd);
  }
}

/** Wire the attack panel's buttons; each outcome goes to the attack log. */
function wireAttacks(deps: AdminPanelDeps, refresh: () => void): void {
  const log = $('attack-log');
  for (const b of document.querySelectorAll<HTMLButtonElement>('#attacks button[data-attack]')) {
    b.onclick = async () => {
      const name = b.dataset['attack'] as AttackName;
      b.disabled = true;
      try {
        const o = await runAttack(name, { wsUrl: deps.wsUrl, getTicket: deps.getTicket });
        const li = document.createElement('li');
        li.dataset['attack'] = name;
        li.dataset['code'] = String(o.code);
        li.className = o.code === o.expected ? 'refused' : 'unexpected';
        li.textContent = `${ATTACKS[name].label}: closed ${o.code ?? '–'} ${o.reason}`.trim();
        li.textContent +=
          o.code === o.expected ? ' — refused as expected' : ` (expected ${o.expected})`;
        log.prepend(li);
        while (log.children.length > 20) log.lastChild?.remove();
      } catch (error) {
        deps.say(`The attack could not run: ${describeError(error)}`, 'bad');
      } finally {
        b.disabled = false;
        refresh();
      }
    };
  }
  $<HTMLButtonElement>('unban-me').onclick = async () => {
    const res = await fetch('/admin/unban-me', {
      method: 'POST',
      headers: { authorization: `Bearer ${deps.token()}` },
    });
    if (!res.ok) return deps.say(`Could not lift the ban: ${res.status}`, 'bad');
    deps.say('The ban on your address and user is lifted: reconnecting.', 'ok');
    deps.restart();
    refresh();
  };
}

/** Start the panel; returns a function that stops it. */
export function startAdminPanel(deps: AdminPanelDeps): () => void {
  const { trpc } = deps;
  $('admin').hidden = false;
  const draw = async (): Promise<void> => {
    const o = await trpc.admin.overview.query();
    renderOverview(o, {
      unban: (ban) => {
        trpc.admin.unban.mutate({ subject: ban.subject, id: ban.id }).then(
          () => {
            deps.say(`Lifted the ban on ${ban.subject} ${ban.id}.`, 'ok');
            refresh();
          },
          (error: unknown) => deps.say(`Not lifted: ${describeError(error)}`, 'bad'),
        );
      },
      kick: (user) => {
        trpc.admin.kick.mutate({ userId: user }).then(
          (r) => {
            deps.say(`Kicked ${user}: ${r.closed} connection(s) closed.`, 'ok');
            refresh();
          },
          (error: unknown) => deps.say(`Not kicked: ${describeError(error)}`, 'bad'),
        );
      },
    });
    drawTraffic($('traffic'), o.traffic);
  };
  const redraw = (): void => {
    void draw().catch(() => {});
    void renderStats(deps.token()).catch(() => {});
  };
  // A decision just streamed in: redraw shortly (coalescing bursts), well within a second.
  let soon: ReturnType<typeof setTimeout> | undefined;
  const refresh = (): void => {
    soon ??= setTimeout(() => {
      soon = undefined;
      redraw();
    }, 150);
  };
  const events = $('events');
  const sub = trpc.admin.events.subscribe(undefined, {
    onData: ({ data }) => {
      const li = document.createElement('li');
      li.className = eventClass(data.type);
      li.textContent =
        `${data.time.slice(11, 19)} ${data.type} ${data.reason ?? ''} ${data.userId ?? ''} ${data.ip ?? ''}`.trim();
      events.prepend(li);
      while (events.children.length > 100) events.lastChild?.remove();
      refresh();
    },
  });
  wireAttacks(deps, refresh);
  const timer = setInterval(redraw, 1000);
  redraw();
  return () => {
    sub.unsubscribe();
    clearInterval(timer);
    if (soon !== undefined) clearTimeout(soon);
  };
}
