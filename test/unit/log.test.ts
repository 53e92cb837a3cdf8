import { afterEach, describe, expect, it } from 'vitest';
import { formatLine, levelFromFlags, log, maskSecrets, setLogLevel, setLogSink } from '../../lib/log.js';

describe('maskSecrets', () => {
  it.each([
    ['host=h password=s3cret user=u', 'host=h password=**** user=u'],
    ["host=h password = 'a b\\'c' user=u", 'host=h password = **** user=u'],
    ['postgres://autoctl_node:s3cret@host:5432/db', 'postgres://autoctl_node:****@host:5432/db'],
    ['postgresql://u:p%40ss@h/db?sslmode=prefer', 'postgresql://u:****@h/db?sslmode=prefer'],
    ['postgres://u@h/db?password=s3cret&sslmode=require', 'postgres://u@h/db?password=****&sslmode=require'],
    ['PGPASSWORD=s3cret psql', 'PGPASSWORD=**** psql'],
    ['no secret here: postgres://u@h:5/db', 'no secret here: postgres://u@h:5/db'],
  ])('%s', (input, expected) => {
    expect(maskSecrets(input)).toBe(expected);
  });
});

describe('formatLine', () => {
  it('is "HH:MM:SS pid LEVEL sentence key=value"', () => {
    const line = formatLine('info', 'Started the monitor', { port: 5400, dir: '/a b' }, new Date(2024, 0, 1, 9, 5, 7));
    expect(line).toBe(`09:05:07 ${process.pid} INFO  Started the monitor port=5400 dir="/a b"`);
  });

  it('masks passwords in fields too', () => {
    const line = formatLine('warn', 'connecting', { uri: 'postgres://u:pw@h/db' });
    expect(line).toContain('uri=postgres://u:****@h/db');
    expect(line).not.toContain('pw@');
  });
});

describe('levels', () => {
  let lines: string[] = [];
  const prev = setLogSink((l) => lines.push(l));
  afterEach(() => {
    lines = [];
    setLogLevel('info');
  });

  it('maps -q, -v, -vv', () => {
    expect(levelFromFlags(0, false)).toBe('info');
    expect(levelFromFlags(1, false)).toBe('debug');
    expect(levelFromFlags(2, false)).toBe('trace');
    expect(levelFromFlags(3, true)).toBe('warn');
  });

  it('drops lines under the threshold and carries child fields', () => {
    setLogLevel('info');
    const child = log.child({ node: 1 });
    child.debug('hidden');
    child.info('shown', { state: 'single' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/INFO {2}shown node=1 state=single$/);
    setLogSink(prev);
    setLogSink((l) => lines.push(l));
  });
});
