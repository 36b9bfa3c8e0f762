/**
 * JWT verifications per second. For HS256, ES256 and RS256, interleaved in one run:
 *
 * - wsguard `createJwtVerifier(...).verify` — keys imported once at construction, claims mapped
 *   to a principal;
 * - jose `jwtVerify` with a key imported once by hand — the floor wsguard adds to;
 * - jose `jwtVerify` importing the key on every call — what naive code does (`importSPKI(pem)` per
 *   request, or the raw secret bytes, which jose turns into a `CryptoKey` on every call). Baseline.
 *
 * Every case verifies the same valid token and counts the subjects it gets back.
 *
 * @module
 */
import { exportSPKI, generateKeyPair, importSPKI, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { createJwtVerifier, type JwtAlgorithm } from '../src/mod.ts';
import type { BenchCase, Comparison } from './harness.ts';

const BASELINE = 'jose jwtVerify, key imported per call (naive)';

interface Fixture {
  readonly alg: JwtAlgorithm & ('HS256' | 'ES256' | 'RS256');
  readonly token: string;
  /** wsguard's input: the secret string or the SPKI PEM. */
  readonly material: string;
  /** The key as naive code hands it to jose on every call. */
  readonly naiveKey: () => Promise<CryptoKey | Uint8Array>;
  /** The key imported once into a `CryptoKey`. */
  readonly imported: CryptoKey;
}

async function fixture(alg: Fixture['alg']): Promise<Fixture> {
  const claims: JWTPayload = { roles: ['user'], scope: 'chat.read chat.send' };
  const sign = (key: CryptoKey | Uint8Array) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg, typ: 'JWT' })
      .setSubject('user-42')
      .setIssuer('https://auth.example.com')
      .setAudience('wss://app.example.com')
      .setIssuedAt()
      .setExpirationTime('2h')
      .sign(key);
  if (alg === 'HS256') {
    const secret = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
    const bytes = new TextEncoder().encode(secret);
    const imported = await crypto.subtle.importKey(
      'raw',
      bytes,
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['verify'],
    );
    // Naive code passes the secret bytes; jose imports them into a CryptoKey on every call.
    return {
      alg,
      token: await sign(bytes),
      material: secret,
      naiveKey: async () => bytes,
      imported,
    };
  }
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const pem = await exportSPKI(publicKey);
  return {
    alg,
    token: await sign(privateKey),
    material: pem,
    naiveKey: () => importSPKI(pem, alg),
    imported: await importSPKI(pem, alg),
  };
}

const VERIFY_OPTIONS = {
  issuer: 'https://auth.example.com',
  audience: 'wss://app.example.com',
  requiredClaims: ['exp'],
};

function counted(name: string, body: () => Promise<string | undefined>, expected = 'user-42') {
  let ok = 0;
  let wrong = 0;
  const c: BenchCase = {
    name,
    async run(n) {
      for (let i = 0; i < n; i++) {
        if ((await body()) === expected) ok++;
        else wrong++;
      }
    },
    verify() {
      if (wrong > 0 || ok === 0)
        throw new Error(`${name}: ${wrong} wrong results of ${ok + wrong}`);
    },
  };
  return c;
}

async function comparison(alg: Fixture['alg']): Promise<Comparison> {
  const f = await fixture(alg);
  const verifier = createJwtVerifier({
    algorithms: [f.alg],
    ...(f.alg === 'HS256' ? { secret: f.material } : { publicKey: f.material }),
    issuer: VERIFY_OPTIONS.issuer,
    audience: VERIFY_OPTIONS.audience,
  });
  await verifier.ready();
  const imported = f.imported;
  const algorithms = [f.alg];
  return {
    title: `JWT ${alg} verifications`,
    baseline: BASELINE,
    cases: [
      counted(
        'wsguard createJwtVerifier().verify',
        async () => (await verifier.verify(f.token)).sub,
      ),
      counted(
        'jose jwtVerify, key imported once',
        async () =>
          (await jwtVerify(f.token, imported, { ...VERIFY_OPTIONS, algorithms })).payload.sub,
      ),
      counted(
        BASELINE,
        async () =>
          (await jwtVerify(f.token, await f.naiveKey(), { ...VERIFY_OPTIONS, algorithms })).payload
            .sub,
      ),
    ],
  };
}

/** The JWT comparisons. */
export async function jwtComparisons(): Promise<Comparison[]> {
  return [await comparison('HS256'), await comparison('ES256'), await comparison('RS256')];
}
