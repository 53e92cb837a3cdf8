// The lean paths of the long-running commands: they take only what they understand and leave
// the rest (help, unknown options) to the yargs command tree.
import { describe, expect, it } from 'vitest';
import { leanRunArgs } from '../../cli/main.js';
import { leanCreatePostgres } from '../../cli/create-postgres.js';

describe('leanRunArgs', () => {
  it('takes run with its options', () => {
    expect(leanRunArgs(['run', '--pgdata', '/d', '-vv'])).toEqual({ pgdata: '/d', verbose: 2, quiet: false });
    expect(leanRunArgs(['-q', 'run', '--pgdata=/d', '--name', 'n1', '--hostname', 'h', '--pgport', '5'])).toEqual({
      pgdata: '/d',
      verbose: 0,
      quiet: true,
      name: 'n1',
      hostname: 'h',
      pgport: '5',
    });
  });
  it('leaves everything else to yargs', () => {
    expect(leanRunArgs(['run', '--help'])).toBeUndefined();
    expect(leanRunArgs(['run', '--bogus'])).toBeUndefined();
    expect(leanRunArgs(['show', 'state'])).toBeUndefined();
    expect(leanRunArgs(['run', 'run'])).toBeUndefined();
    expect(leanRunArgs(['run', '--pgdata'])).toBeUndefined();
  });
});

describe('leanCreatePostgres', () => {
  it('takes create postgres --run with known options', () => {
    expect(leanCreatePostgres(['create', 'postgres', '--run', '--pgdata', '/d', '--auth', 'trust', '-v'])).toBeTypeOf('function');
  });
  it('leaves the rest to yargs', () => {
    expect(leanCreatePostgres(['create', 'postgres', '--pgdata', '/d'])).toBeUndefined(); // no --run
    expect(leanCreatePostgres(['create', 'postgres', '--run', '--help'])).toBeUndefined();
    expect(leanCreatePostgres(['create', 'postgres', '--run', '--bogus'])).toBeUndefined();
    expect(leanCreatePostgres(['create', 'monitor', '--run'])).toBeUndefined();
  });
});
