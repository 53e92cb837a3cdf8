// node-postgres' crypto helpers (node_modules/pg/lib/crypto/utils.js: SCRAM-SHA-256 and md5
// passwords) on node:crypto's synchronous functions, for the CLI's fast-path bundle only
// (bin/bundle-cli.mjs puts this module in their place). pg's own go through WebCrypto: for one
// login from a fresh process, PBKDF2-4096 and the HMACs take 4-9 ms there (WebCrypto's modules
// to load, the thread pool, promise hops) against about 2 ms here, and the login's client side
// is then the largest part of a `show state` after Node's start (docs/benchmarks.md, CLI).
// Same names, same results (test/unit/pg-crypto-sync.test.ts checks them against pg's).
import { createHash, createHmac, pbkdf2Sync, randomBytes as nodeRandomBytes } from 'node:crypto';

type Bytes = ArrayBuffer | Uint8Array;

const buf = (b: Bytes): Buffer => (b instanceof Uint8Array ? Buffer.from(b.buffer, b.byteOffset, b.byteLength) : Buffer.from(b));

export function randomBytes(length: number): Buffer {
  return nodeRandomBytes(length);
}

export async function md5(s: string | Uint8Array): Promise<string> {
  return createHash('md5').update(s as string, 'utf8').digest('hex');
}

export async function postgresMd5PasswordHash(user: string, password: string, salt: Uint8Array): Promise<string> {
  const inner = await md5(password + user);
  return `md5${await md5(Buffer.concat([Buffer.from(inner), salt]))}`;
}

export async function sha256(data: Bytes): Promise<Buffer> {
  return createHash('sha256').update(buf(data)).digest();
}

/** A WebCrypto digest name ('SHA-256', 'SHA-384', 'SHA-512', as pg's channel binding uses). */
export async function hashByName(hashName: string, data: Bytes): Promise<Buffer> {
  return createHash(hashName.replace('-', '').toLowerCase()).update(buf(data)).digest();
}

export async function hmacSha256(key: Bytes, msg: string): Promise<Buffer> {
  return createHmac('sha256', buf(key)).update(msg, 'utf8').digest();
}

export async function deriveKey(password: string, salt: Uint8Array, iterations: number): Promise<Buffer> {
  return pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
}
