/**
 * How the unstorage store names its keys: the prefix normalised as unstorage normalises every
 * key, and each caller's key encoded as one segment no driver folds, splits or case-merges, so
 * two distinct keys (two users, two addresses) never share one record.
 *
 * @module
 */

/** unstorage's `normalizeKey`, so the keys locked here are the keys the driver stores. */
export function normalizeKey(key: string): string {
  return key.split('?')[0]?.replace(/[/\\]/g, ':').replace(/:+/g, ':').replace(/^:|:$/g, '') ?? '';
}

/**
 * Encode a caller's key as one driver-safe segment: only `a-z`, `0-9`, `_` and `-` pass, every
 * other character is `%XX` per UTF-8 byte (a lone surrogate `%uXXXX`). Unencoded, unstorage
 * would fold keys together (`ip:::1` and `ip:1` both become `ip:1`; `alice?x` becomes `alice`),
 * the fs driver would refuse `..` and nest `:` as directories, and a case-insensitive file system
 * would merge `Alice` with `alice`: two users sharing one cap or one ban. The empty key is `%`.
 */
export function encodeKey(key: string): string {
  // A lone `%` is no other key's encoding; an empty segment would name the directory above.
  if (key === '') return '%';
  return key.replace(/[^a-z0-9_-]/gu, (c) => {
    const code = c.codePointAt(0) ?? 0;
    if (code < 0x80) return `%${code.toString(16).toUpperCase().padStart(2, '0')}`;
    if (code >= 0xd800 && code <= 0xdfff) return `%u${code.toString(16).toUpperCase()}`;
    return encodeURIComponent(c);
  });
}
