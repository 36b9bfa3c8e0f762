/**
 * `POST /admin/unban-me`: an administrator lifts the ban on their own address and user. The attack
 * panel runs its attacks from the admin's browser, so they score against the admin's own address;
 * once banned, the page's socket is closed (4030) and tRPC's `admin.unban` is out of reach. This
 * route needs only the bearer token, which the page still holds.
 */
import { type Guard, json } from '../../../src/mod.ts';
import type { AdminBooks } from './overview.ts';

/** The route's handler; `ip` is the address the adapter resolved for the request. */
export function unbanMeHandler(
  guard: Guard,
  books: AdminBooks,
): (request: Request, ip: string) => Promise<Response> {
  return async (request, ip) => {
    if (request.method !== 'POST')
      return json({ error: 'method not allowed' }, 405, { allow: 'POST' });
    if (!guard.checkOrigin(request.headers.get('origin')))
      return json({ error: 'origin not allowed' }, 403);
    const header = request.headers.get('authorization') ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    const principal = await guard.verifyToken(token).catch(() => undefined);
    if (!principal) return json({ error: 'unauthorized' }, 401);
    if (!guard.can(principal, 'admin')) return json({ error: 'forbidden' }, 403);
    await books.unban(guard, 'ip', ip);
    await books.unban(guard, 'user', principal.sub);
    return json({ lifted: { ip, user: principal.sub } });
  };
}
