/**
 * JWTs for the lifecycle test: HS256 with a 32-byte secret, per user, in four kinds. Long, expired
 * and forged tokens are signed once per process; short ones are signed when asked for, because
 * they must expire shortly after that.
 */
import { SignJWT } from 'jose';

/** The guard's secret (32 random bytes). */
export const SECRET: Uint8Array = crypto.getRandomValues(new Uint8Array(32));
/** Another secret: tokens signed with it are forged. */
const WRONG: Uint8Array = crypto.getRandomValues(new Uint8Array(32));

/** What a token is like. */
export type TokenKind = 'long' | 'short' | 'expired' | 'forged';

/** A signed token and what the model knows of it. */
export interface Token {
  /** The compact JWT. */
  readonly value: string;
  /** Its subject. */
  readonly sub: string;
  /** Its kind. */
  readonly kind: TokenKind;
  /** `exp` in ms. */
  readonly expiresAt: number;
}

/** A short token lives at least this long (then the next whole second): 0.4 to 1.4 s. */
export const SHORT_MIN_MS = 400;

const cache = new Map<string, Promise<Token>>();

async function sign(sub: string, kind: TokenKind): Promise<Token> {
  const nowSec = Math.floor(Date.now() / 1000);
  const exp =
    kind === 'long'
      ? nowSec + 3600
      : kind === 'expired'
        ? nowSec - 60
        : kind === 'forged'
          ? nowSec + 3600
          : Math.ceil((Date.now() + SHORT_MIN_MS) / 1000);
  const value = await new SignJWT({ roles: [sub === 'root' ? 'admin' : 'user'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(kind === 'forged' ? WRONG : SECRET);
  return { value, sub, kind, expiresAt: exp * 1000 };
}

/** A token of `kind` for `sub`. */
export function token(sub: string, kind: TokenKind): Promise<Token> {
  if (kind === 'short') return sign(sub, kind);
  const key = `${sub}:${kind}`;
  let t = cache.get(key);
  if (!t) {
    t = sign(sub, kind);
    cache.set(key, t);
  }
  return t;
}
