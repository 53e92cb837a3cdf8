// The start-up cache serves a value only for the very file it came from.
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cacheFile, cached, fileIdentity, pgConfigKey, pgConfigPath } from '../../cli/startup-cache.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'pgaf-cache-'));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('start-up cache', () => {
  it('computes once per file identity, again when the file changes', async () => {
    const d = tmp();
    const bin = join(d, 'postgres');
    const file = join(d, 'cache', 'startup.json');
    writeFileSync(bin, 'v1');
    let calls = 0;
    const compute = async () => `answer ${++calls}`;
    expect(await cached('x', fileIdentity(bin), compute, file)).toBe('answer 1');
    expect(await cached('x', fileIdentity(bin), compute, file)).toBe('answer 1');
    writeFileSync(bin, 'v2 is longer');
    utimesSync(bin, new Date(), new Date(Date.now() + 5000));
    expect(await cached('x', fileIdentity(bin), compute, file)).toBe('answer 2');
    expect(JSON.parse(readFileSync(file, 'utf8')).x.value).toBe('answer 2');
  });

  it('computes every time without a key, and survives a corrupt or unwritable cache', async () => {
    const d = tmp();
    let calls = 0;
    const compute = async () => `answer ${++calls}`;
    expect(await cached('x', fileIdentity(join(d, 'missing')), compute, join(d, 'c.json'))).toBe('answer 1');
    expect(await cached('x', undefined, compute, join(d, 'c.json'))).toBe('answer 2');
    writeFileSync(join(d, 'c.json'), '{not json');
    writeFileSync(join(d, 'f'), 'x');
    expect(await cached('x', fileIdentity(join(d, 'f')), compute, join(d, 'c.json'))).toBe('answer 3');
    writeFileSync(join(d, 'plain'), '');
    expect(await cached('x', fileIdentity(join(d, 'f')), compute, join(d, 'plain', 'c.json'))).toBe('answer 4');
  });

  it('lives in XDG_CACHE_HOME when set', () => {
    expect(cacheFile({ XDG_CACHE_HOME: '/x/cache' })).toBe('/x/cache/pgaf/startup.json');
  });

  it('knows which pg_config runs, and keys its answer only when it can tell what the answer depends on', () => {
    const d = tmp();
    const elf = join(d, 'pg_config');
    writeFileSync(elf, Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(100)]));
    expect(pgConfigPath({ PATH: `/nonexistent:${d}` })).toBe(elf);
    expect(pgConfigPath({ PG_CONFIG: '/x/pg_config', PATH: d })).toBe('/x/pg_config');
    expect(pgConfigKey({ PATH: d })).toBe(fileIdentity(elf));
    const script = join(d, 'other');
    writeFileSync(script, '#!/bin/sh\necho "$SOMETHING"\n');
    expect(pgConfigKey({ PG_CONFIG: script })).toBeUndefined();
    const debian = join(d, 'debian');
    writeFileSync(debian, '#!/bin/sh\nset -e\nPGBINROOT="/usr/lib/postgresql/"\n');
    expect(pgConfigKey({ PG_CONFIG: debian })).toMatch(new RegExp(`^${fileIdentity(debian)}\\|`));
    expect(pgConfigKey({ PATH: '/nonexistent' })).toBeUndefined();
  });
});
