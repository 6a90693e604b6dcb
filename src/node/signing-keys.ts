/**
 * Ed25519 keys for signed manifests, with node:crypto: the private key as a
 * PKCS#8 PEM file (mode 0600), the public key as 64 hex digits, the form the
 * board reads from /ota.pub.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';

export interface KeyPairFiles {
  readonly privateKeyPem: string;
  /** 64 hex digits. */
  readonly publicKeyHex: string;
}

export function generateSigningKey(): KeyPairFiles {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), publicKeyHex: rawPublicKey(publicKey) };
}

/** The raw 32-byte public key (the last 32 bytes of its SPKI DER form), as hex. */
export function rawPublicKey(key: KeyObject): string {
  return key.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
}

export async function writeKeyPair(privatePath: string, publicPath: string, pair: KeyPairFiles): Promise<void> {
  await writeFile(privatePath, pair.privateKeyPem, { mode: 0o600, flag: 'wx' });
  await writeFile(publicPath, `${pair.publicKeyHex}\n`, { flag: 'wx' });
}

export class SigningKeyError extends Error {
  override name = 'SigningKeyError';
}

export async function readSigningKey(path: string): Promise<KeyObject> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new SigningKeyError(`cannot read the signing key ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch {
    throw new SigningKeyError(`${path} is not a private key in PEM form (make one with: esp32-ota keygen)`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new SigningKeyError(`${path} is an ${key.asymmetricKeyType} key, not Ed25519 (make one with: esp32-ota keygen)`);
  return key;
}

/** The Ed25519 signature of text, as 128 hex digits, and the public key that checks it. */
export function signText(key: KeyObject, text: string): { signature: string; publicKey: string } {
  return { signature: sign(null, Buffer.from(text, 'utf8'), key).toString('hex'), publicKey: rawPublicKey(createPublicKey(key)) };
}
