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
    expect(fastInvocation(['set', 'node', 'candidate-priority', '50'])).toBeUndefined();
  });
});
