// cli/pg-crypto-sync.ts stands in for node-postgres' crypto helpers in the CLI's fast-path bundle
// (bin/bundle-cli.mjs): the same functions, the same results as pg's own (WebCrypto) ones.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import * as ours from '../../cli/pg-crypto-sync.js';

const pgs = createRequire(import.meta.url)('pg/lib/crypto/utils') as Record<string, (...a: never[]) => unknown>;
const bytes = (b: unknown) => Buffer.from(b as ArrayBuffer);

describe("pg's crypto helpers on node:crypto", () => {
  it("export every function pg's do, and nothing else", () => {
    expect(Object.keys(ours).sort()).toEqual(Object.keys(pgs).sort());
  });

  it('give the same SCRAM-SHA-256 values (salted password, keys, signatures) and md5 hashes', async () => {
    const salt = Buffer.from('c2FsdHNhbHRzYWx0c2FsdA==', 'base64');
    for (const password of ['secret', 'pässwörd with ünïcode', '']) {
      const a = await ours.deriveKey(password, salt, 4096);
      const b = await (pgs.deriveKey as (p: string, s: Uint8Array, i: number) => Promise<ArrayBuffer>)(password, salt, 4096);
      expect(bytes(a)).toEqual(bytes(b));
      const ck = await ours.hmacSha256(a, 'Client Key');
      expect(bytes(ck)).toEqual(bytes(await (pgs.hmacSha256 as (k: ArrayBuffer, m: string) => Promise<ArrayBuffer>)(b, 'Client Key')));
      expect(bytes(await ours.sha256(ck))).toEqual(bytes(await (pgs.sha256 as (d: Uint8Array) => Promise<ArrayBuffer>)(Uint8Array.from(ck))));
    }
    const cert = Buffer.from('a certificate, DER in real life');
    for (const h of ['SHA-256', 'SHA-384', 'SHA-512']) {
      expect(bytes(await ours.hashByName(h, cert))).toEqual(bytes(await (pgs.hashByName as (n: string, d: Buffer) => Promise<ArrayBuffer>)(h, cert)));
    }
    const salt4 = Buffer.from([1, 2, 3, 4]);
    expect(await ours.postgresMd5PasswordHash('alice', 'pw', salt4)).toBe(await (pgs.postgresMd5PasswordHash as (u: string, p: string, s: Buffer) => Promise<string>)('alice', 'pw', salt4));
    expect(await ours.md5('x')).toBe(await (pgs.md5 as (s: string) => Promise<string>)('x'));
    expect(ours.randomBytes(18)).toHaveLength(18);
  });
});
