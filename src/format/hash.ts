/**
 * Hash functions for the pure core. The default SHA-256 is @noble/hashes
 * (synchronous, browser-safe); Node callers may pass a faster native one
 * (see `src/node/native-hash.ts`) wherever a function takes a `Sha256`.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { md5 as nobleMd5 } from '@noble/hashes/legacy.js';

export type Sha256 = (data: Uint8Array) => Uint8Array;

export const sha256: Sha256 = (data) => nobleSha256(data);

export interface IncrementalHash {
  update(data: Uint8Array): IncrementalHash;
  digest(): Uint8Array;
}

export function createSha256(): IncrementalHash {
  const state = nobleSha256.create();
  const wrapper: IncrementalHash = {
    update(data) {
      state.update(data);
      return wrapper;
    },
    digest: () => state.digest(),
  };
  return wrapper;
}

export function md5(data: Uint8Array): Uint8Array {
  return nobleMd5(data);
}
