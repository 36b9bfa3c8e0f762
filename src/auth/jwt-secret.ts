/**
 * The HMAC secret's bytes, as one view the option check, the key import and the synchronous HS*
 * path all use: one conversion, so they cannot disagree on the key.
 *
 * @module
 */

/**
 * The secret's bytes, as one view both verification paths use: a string as UTF-8, any
 * `ArrayBufferView` (Buffer, Uint8Array, DataView) over exactly its own bytes, an `ArrayBuffer`
 * whole. `undefined` for anything else (a `KeyObject`, a plain object), which the doctor refuses:
 * treating an unknown object as bytes could mean verifying with an empty key.
 */
export function secretBytes(secret: unknown): Uint8Array | undefined {
  if (typeof secret === 'string') return new TextEncoder().encode(secret);
  if (ArrayBuffer.isView(secret))
    return new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength);
  if (secret instanceof ArrayBuffer) return new Uint8Array(secret);
  return undefined;
}
