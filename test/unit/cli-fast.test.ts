// cli/fast.ts: which invocations skip the yargs tree, and the options they hand to the handler.
import { describe, expect, it } from 'vitest';
import { fastInvocation } from '../../cli/fast.js';

const words = (argv: string[]) => fastInvocation(argv)?.command.words.join(' ');

describe('fastInvocation', () => {
  it('takes the hot read commands with their own options', () => {
    expect(words(['--version'])).toBe('version');
    expect(words(['version', '--json'])).toBe('version');
    expect(words(['show', 'state', '--pgdata', '/d', '--formation', 'f', '--group', '0', '--json', '--local'])).toBe('show state');
    expect(words(['show', 'uri', '--monitor=postgres://m/x', '--formation', 'monitor'])).toBe('show uri');
    expect(words(['status', '-vv', '--pgdata', '/d'])).toBe('status');
  });

  it('hands the handler what yargs would: flags default to false, values as strings, -v counted', () => {
    const f = fastInvocation(['show', 'state', '--group', '1', '-v', '--verbose', '-q'])!;
    expect(f.args).toEqual({ json: false, local: false, group: '1' });
    expect(f.verbose).toBe(2);
    expect(f.quiet).toBe(true);
    expect(fastInvocation(['show', 'uri', '--pgdata=/a/b'])!.args).toEqual({ json: false, pgdata: '/a/b' });
  });

  it('leaves everything else to yargs', () => {
    for (const argv of [
      [],
      ['show'],
      ['show', 'events'],
      ['show', 'state', '--watch'],
      ['show', 'state', '--help'],
      ['show', 'state', '-h'],
      ['show', 'state', 'extra'],
      ['show', 'state', '--formation'],
      ['show', 'state', '--formation', '--json'],
      ['show', 'state', '--formation='],
      ['show', 'state', '--formation', 'a', '--formation', 'b'],
      ['show', 'state', '--json', 'false'],
      ['show', 'state', '--json=true'],
      ['show', 'uri', '--group', '0'],
      ['status', '--monitor', 'x'],
      ['-v', 'show', 'state'],
      ['--version', '--help'],
      ['version', '-vq'],
      ['run'],
    ]) expect(fastInvocation(argv), argv.join(' ')).toBeUndefined();
  });
});

describe('fastInvocation of get', () => {
  it('takes get node|formation <property> with their options, --name only for nodes', () => {
    expect(words(['get', 'node', 'candidate-priority', '--name', 'node1', '--formation', 'f'])).toBe('get node candidate-priority');
    expect(words(['get', 'node', 'replication-quorum', '--json'])).toBe('get node replication-quorum');
    expect(words(['get', 'formation', 'number-sync-standbys', '--monitor', 'postgres://m/x'])).toBe('get formation number-sync-standbys');
    expect(words(['get', 'formation', 'settings'])).toBe('get formation settings');
    expect(fastInvocation(['get', 'formation', 'settings', '--name', 'x'])).toBeUndefined();
    expect(fastInvocation(['get', 'node'])).toBeUndefined();
    expect(fastInvocation(['get', 'node', 'candidate-priority', '50'])).toBeUndefined();
  });
});

describe('fastInvocation of set', () => {
  it('takes set node|formation <property> <value> with the value as yargs names it, options around it', () => {
    const f = fastInvocation(['set', 'node', 'candidate-priority', '50', '--name', 'node1', '--wait', '0'])!;
    expect(f.command.words.join(' ')).toBe('set node candidate-priority');
    expect(f.args).toEqual({ json: false, priority: '50', name: 'node1', wait: '0' });
    expect(fastInvocation(['set', 'node', 'candidate-priority', '--formation', 'f', '7'])!.args).toEqual({ json: false, formation: 'f', priority: '7' });
    expect(fastInvocation(['set', 'node', 'replication-quorum', 'false', '--json'])!.args).toEqual({ json: true, quorum: 'false' });
    expect(fastInvocation(['set', 'formation', 'number-sync-standbys', '1', '-v'])!.args).toEqual({ json: false, number: '1' });
  });

  it('leaves to yargs a missing or second value, a value that looks like an option, and what it does not know', () => {
    for (const argv of [
      ['set', 'node', 'candidate-priority'],
      ['set', 'node', 'candidate-priority', '50', '60'],
      ['set', 'node', 'candidate-priority', '-1'],
      ['set', 'node', 'candidate-priority', '50', '--wait'],
      ['set', 'formation', 'number-sync-standbys', '1', '--name', 'x'],
      ['set', 'node', 'metadata', '--name', 'x'],
      ['set', 'node', 'candidate-priority', '50', '--help'],
    ]) expect(fastInvocation(argv), argv.join(' ')).toBeUndefined();
  });
});

describe('fastInvocation of config get|set', () => {
  it('takes config get [key] and config set <key> <value> with --pgdata (and --json for get)', () => {
    expect(fastInvocation(['config', 'get'])!.args).toEqual({ json: false });
    expect(fastInvocation(['config', 'get', 'postgresql.port', '--json', '--pgdata', '/d'])!.args).toEqual({ json: true, key: 'postgresql.port', pgdata: '/d' });
    const f = fastInvocation(['config', 'set', '--pgdata=/d', 'postgresql.listen_addresses', '127.0.0.1', '-q'])!;
    expect(f.command.words.join(' ')).toBe('config set');
    expect(f.args).toEqual({ pgdata: '/d', key: 'postgresql.listen_addresses', value: '127.0.0.1' });
    expect(f.quiet).toBe(true);
  });

  it('leaves to yargs a missing, empty, extra or option-like value, and config check', () => {
    for (const argv of [
      ['config'],
      ['config', 'check'],
      ['config', 'get', 'a', 'b'],
      ['config', 'get', ''],
      ['config', 'get', '--help'],
      ['config', 'set'],
      ['config', 'set', 'postgresql.port'],
      ['config', 'set', 'postgresql.port', ''],
      ['config', 'set', 'postgresql.port', '-1'],
      ['config', 'set', 'postgresql.port', '1', '2'],
      ['config', 'set', 'postgresql.port', '1', '--json'],
      ['config', 'set', 'postgresql.port', '1', '--pgdata', '/a', '--pgdata', '/b'],
      ['config', 'set', '--', 'postgresql.port', '1'],
    ]) expect(fastInvocation(argv), argv.join(' ')).toBeUndefined();
  });
});
