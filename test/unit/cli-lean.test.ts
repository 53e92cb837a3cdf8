// The lean paths of the long-running commands: they take only what they understand and leave
// the rest (help, unknown options) to the yargs command tree.
import { describe, expect, it } from 'vitest';
import { leanRunArgs } from '../../cli/service-launch.js';
import { leanCreatePostgres } from '../../cli/create-postgres.js';
import { leanCreateMonitor } from '../../cli/create-monitor.js';

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

describe('leanCreateMonitor', () => {
  it('takes a plain create monitor, with or without --run', () => {
    for (const argv of [
      ['create', 'monitor', '--pgctl', '/usr/lib/postgresql/15/bin/pg_ctl', '--pgport', '6410', '--hostname', 'localhost', '--auth', 'trust', '--no-ssl'],
      ['create', 'monitor', '--pgdata=/d', '--ssl-self-signed', '--run', '-vv', '-q'],
      ['create', 'monitor', '--auth', 'skip', '--skip-pg-hba', '--ssl-mode', 'require', '--server-cert', '/c', '--server-key', '/k'],
      ['create', '--pgdata', '/d', 'monitor'],
    ]) expect(leanCreateMonitor(argv), argv.join(' ')).toBeTypeOf('function');
  });
  it('leaves to yargs what it does not know, a repeated or empty option, a bad --auth, help and --', () => {
    for (const argv of [
      ['create', 'monitor', '--help'],
      ['create', 'monitor', '-h'],
      ['create', 'monitor', '--bogus'],
      ['create', 'monitor', 'extra'],
      ['create', 'monitor', '--pgport'],
      ['create', 'monitor', '--pgport', '--hostname', 'h'],
      ['create', 'monitor', '--pgport='],
      ['create', 'monitor', '--pgport', '1', '--pgport', '2'],
      ['create', 'monitor', '--auth', 'md4'],
      ['create', 'monitor', '--run=false'],
      ['create', 'monitor', '--', '--pgport', '1'],
      ['create', 'postgres', '--run'],
      ['create', 'monitor', '--listen', '127.0.0.1'],
    ]) expect(leanCreateMonitor(argv), argv.join(' ')).toBeUndefined();
  });
});
