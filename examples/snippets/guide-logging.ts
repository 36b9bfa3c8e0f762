// Audit events into pino (any logger fits: the sink is a function). npm install pino
import pino from 'pino';
import { type AuditEvent, createGuard } from 'wsguard';

const secret = process.env.JWT_SECRET;
if (!secret) throw new Error('set JWT_SECRET to 32 or more random bytes (openssl rand -hex 32)');
const log = pino({ level: process.env.LOG_LEVEL ?? 'info' });

// Refusals and bans are what an operator looks for; accepted and closed connections are noise
// at info level on a busy server.
const level = (event: AuditEvent): 'warn' | 'info' | 'debug' =>
  event.type === 'ban.started' || event.type === 'store.error'
    ? 'warn'
    : event.type.endsWith('.rejected') || event.type === 'permission.denied'
      ? 'info'
      : 'debug';

export const guard = createGuard({
  origins: ['https://app.example.com'],
  jwt: { algorithms: ['HS256'], secret },
  tickets: true,
  // Every string in an event is redacted before the sink sees it (tokens, tickets, secrets in
  // URLs and reasons), so the event can be logged as it is.
  audit: (event) => log[level(event)]({ audit: event }, event.type),
  // Errors of the guard's own machinery (a store outage, a failing hook), with their stage.
  onError: (error, { stage }) => log.error({ err: error, stage }, 'wsguard'),
});
