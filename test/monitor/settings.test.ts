// Settings of the monitor (spec §2.1 GUC defaults, §4): only values the owner sets count
// (configuration files, ALTER SYSTEM, ALTER DATABASE; a session's SET is ignored, #10.5);
// durations accept '2s', '2000ms' and a bare number of milliseconds, sizes accept '16MB' or a
// number of bytes; a nonsense value is a clear error naming the setting.
//
// Each probe runs in a transaction that is rolled back, so one cluster serves many probes.
import { describe, expect, it } from 'vitest';
import { type Monitor, MonitorServer, type State, twoNodes, useMonitorServer } from './helpers.js';

let ms: MonitorServer;
useMonitorServer((server) => (ms = server));

/** Run `fn` in a transaction with `settings` set by ALTER DATABASE, then roll everything back. */
async function probe<T>(m: Monitor, settings: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  await m.q('begin');
  try {
    for (const [k, v] of Object.entries(settings)) {
      await m.q(`alter database ${m.db} set pgautofailover.${k} = '${v.replace(/'/g, "''")}'`);
    }
    return await fn();
  } finally {
    await m.q('rollback');
  }
}

describe('defaults (fast failover: detection in about 1.2 s, demote wait 10 s)', () => {
  it('monitor_settings() lists every setting with its default when none is set', async () => {
    const m = await ms.fresh();
    // fresh() sets startup_grace_period for the database: reset it to read the default.
    await m.reset('startup_grace_period');
    const rows = await m.q(`select name, value, unit, numeric_value, is_default from pgautofailover.monitor_settings()`);
    expect(rows.map((r) => [r.name, r.value, r.unit, Number(r.numeric_value), r.is_default])).toEqual([
      ['health_check_period', '500ms', 'ms', 500, true],
      ['health_check_timeout', '500ms', 'ms', 500, true],
      ['health_check_max_retries', '2', '', 2, true],
      ['health_check_retry_delay', '250ms', 'ms', 250, true],
      ['node_considered_unhealthy_timeout', '1200ms', 'ms', 1200, true],
      ['primary_demote_timeout', '10s', 'ms', 10000, true],
      ['startup_grace_period', '10s', 'ms', 10000, true],
      ['enable_sync_wal_log_threshold', '16MB', 'bytes', 16777216, true],
      ['promote_wal_log_threshold', '16MB', 'bytes', 16777216, true],
      ['replication_stall_timeout', '10s', 'ms', 10000, true],
      ['guard_data_loss', 'on', 'bool', 1, true],
    ]);
  });

  it('ALTER DATABASE overrides a default (is_default false)', async () => {
    const m = await ms.fresh({ primary_demote_timeout: '30s' });
    const r = await m.one(`select value, numeric_value, is_default from pgautofailover.monitor_settings() where name = 'primary_demote_timeout'`);
    expect([r.value, Number(r.numeric_value), r.is_default]).toEqual(['30s', 30000, false]);
  });
});

describe('node_considered_unhealthy_timeout (default 1.2 s)', () => {
  // A's health check failed just now and its keeper last reported `ago` seconds ago.
  const failover = (m: Monitor, a: number, b: number, ago: number, settings: Record<string, string>) =>
    probe(m, settings, async () => {
      await m.q(
        `update pgautofailover.node set health = 0, healthchecktime = now(),
                reporttime = now() - make_interval(secs => $2) where nodeid = $1`,
        [a, ago],
      );
      return m.active(b, 'secondary');
    });

  it.each([
    ['2s', 'prepare_promotion'],
    ['2000ms', 'prepare_promotion'],
    ['2000', 'prepare_promotion'],
    ['5s', 'secondary'],
    ['5000ms', 'secondary'],
    ['5000', 'secondary'],
  ] as [string, State][])('= %s with a keeper silent for 3 s → standby goal %s', async (value, expected) => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    expect(await failover(m, a.id, b.id, 3, { node_considered_unhealthy_timeout: value })).toBe(expected);
  });

  it('defaults to 1.2 s', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    expect(await failover(m, a.id, b.id, 0.5, {})).toBe('secondary');
    expect(await failover(m, a.id, b.id, 2, {})).toBe('prepare_promotion');
  });

  it('a nonsense value is an error naming the setting', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await expect(failover(m, a.id, b.id, 3, { node_considered_unhealthy_timeout: 'banana' })).rejects.toThrow(
      /node_considered_unhealthy_timeout/,
    );
  });
});

describe('startup_grace_period (default 10 s)', () => {
  const failover = (m: Monitor, a: number, b: number, settings: Record<string, string>) =>
    probe(m, settings, async () => {
      await m.markUnhealthy(a);
      return m.active(b, 'secondary');
    });

  it('no failover while the monitor has been up for less than the grace period', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    expect(await failover(m, a.id, b.id, { startup_grace_period: '1h' })).toBe('secondary');
    expect(await failover(m, a.id, b.id, { startup_grace_period: '3600000' })).toBe('secondary');
    expect(await failover(m, a.id, b.id, { startup_grace_period: '3600s' })).toBe('secondary');
    expect(await failover(m, a.id, b.id, { startup_grace_period: '1' })).toBe('prepare_promotion');
    expect(await failover(m, a.id, b.id, { startup_grace_period: '0' })).toBe('prepare_promotion');
    expect(await failover(m, a.id, b.id, { startup_grace_period: '1ms' })).toBe('prepare_promotion');
  });

  it('a nonsense value is an error naming the setting', async () => {
    const m = await ms.fresh();
    const { a, b } = await twoNodes(m);
    await expect(failover(m, a.id, b.id, { startup_grace_period: '10 parsecs' })).rejects.toThrow(
      /startup_grace_period/,
    );
  });
});

describe('primary_demote_timeout (default 10 s)', () => {
  /**
   * A failover in progress: B in stop_replication, A (dead) assigned demote_timeout `ago` seconds
   * ago. B is an asynchronous standby (replication quorum false): A ran with
   * synchronous_standby_names '' and nothing proves it cannot commit (no rule F1), so the
   * candidate waits for primary_demote_timeout.
   */
  async function demoting(m: Monitor) {
    const { a, b } = await twoNodes(m, { b: { quorum: false } });
    await m.markUnhealthy(a.id);
    expect(await m.active(b.id, 'secondary')).toBe('prepare_promotion');
    expect(await m.active(b.id, 'prepare_promotion')).toBe('stop_replication');
    expect(await m.goal(a.id)).toBe('demote_timeout');
    expect((await m.node(a.id) as any).sync_standby_ids, 'no synchronous standby snapshot for A').toBeNull();
    return { a, b };
  }
  const finish = (m: Monitor, a: number, b: number, ago: number, settings: Record<string, string>) =>
    probe(m, settings, async () => {
      await m.q(`update pgautofailover.node set statechangetime = now() - make_interval(secs => $2) where nodeid = $1`, [
        a,
        ago,
      ]);
      return m.active(b, 'stop_replication');
    });

  it.each([
    ['2s', 'wait_primary'],
    ['2000ms', 'wait_primary'],
    ['2000', 'wait_primary'],
    ['5s', 'stop_replication'],
    ['5000ms', 'stop_replication'],
    ['5000', 'stop_replication'],
  ] as [string, State][])('= %s, demote_timeout assigned 3 s ago → candidate goal %s', async (value, expected) => {
    const m = await ms.fresh();
    const { a, b } = await demoting(m);
    expect(await finish(m, a.id, b.id, 3, { primary_demote_timeout: value })).toBe(expected);
  });

  it('defaults to 10 s', async () => {
    const m = await ms.fresh();
    const { a, b } = await demoting(m);
    expect(await finish(m, a.id, b.id, 8, {})).toBe('stop_replication');
    expect(await finish(m, a.id, b.id, 12, {})).toBe('wait_primary');
  });

  it('a nonsense value is an error naming the setting', async () => {
    const m = await ms.fresh();
    const { a, b } = await demoting(m);
    await expect(finish(m, a.id, b.id, 3, { primary_demote_timeout: 'soon' })).rejects.toThrow(
      /primary_demote_timeout/,
    );
  });
});

describe('enable_sync_wal_log_threshold (default 16 MB)', () => {
  /** A in wait_primary at 0/3200000, B catching up from 0/3000000 (2 MB behind). */
  async function catchingUp(m: Monitor) {
    const a = await m.register(5001);
    m.lsn.set(a.id, '0/3200000');
    await m.active(a.id, 'single');
    const b = await m.register(5002);
    await m.active(b.id, 'wait_standby');
    expect(await m.active(a.id, 'single')).toBe('wait_primary');
    await m.active(a.id, 'wait_primary');
    expect(await m.active(b.id, 'wait_standby')).toBe('catchingup');
    return { a, b };
  }
  const report = (m: Monitor, b: number, settings: Record<string, string>) =>
    probe(m, settings, () => m.active(b, 'catchingup', { lsn: '0/3000000' }));

  it.each([
    [undefined, 'secondary'],
    ['16MB', 'secondary'],
    ['4MB', 'secondary'],
    ['4194304', 'secondary'],
    ['1MB', 'catchingup'],
    ['1048576', 'catchingup'],
  ] as [string | undefined, State][])('= %s with a standby 2 MB behind → %s', async (value, expected) => {
    const m = await ms.fresh();
    const { b } = await catchingUp(m);
    expect(await report(m, b.id, value === undefined ? {} : { enable_sync_wal_log_threshold: value })).toBe(expected);
  });

  it('a nonsense value is an error naming the setting', async () => {
    const m = await ms.fresh();
    const { b } = await catchingUp(m);
    await expect(report(m, b.id, { enable_sync_wal_log_threshold: 'lots' })).rejects.toThrow(
      /enable_sync_wal_log_threshold/,
    );
  });
});

describe('promote_wal_log_threshold (default 16 MB)', () => {
  /** A primary reported 0/3200000, B secondary at 0/3000000 (2 MB behind); A dies. */
  async function deadPrimary(m: Monitor) {
    const { a, b } = await twoNodes(m);
    expect(await m.active(a.id, 'primary', { lsn: '0/3200000' })).toBe('primary');
    await m.markUnhealthy(a.id);
    return { a, b };
  }
  const report = (m: Monitor, b: number, settings: Record<string, string>) =>
    probe(m, settings, () => m.active(b, 'secondary', { lsn: '0/3000000' }));

  it.each([
    [undefined, 'prepare_promotion'],
    ['4MB', 'prepare_promotion'],
    ['4194304', 'prepare_promotion'],
    ['1MB', 'secondary'],
    ['1048576', 'secondary'],
  ] as [string | undefined, State][])('= %s with the standby 2 MB behind the dead primary → %s', async (value, expected) => {
    const m = await ms.fresh();
    const { b } = await deadPrimary(m);
    expect(await report(m, b.id, value === undefined ? {} : { promote_wal_log_threshold: value })).toBe(expected);
  });

  it('a nonsense value is an error naming the setting', async () => {
    const m = await ms.fresh();
    const { b } = await deadPrimary(m);
    await expect(report(m, b.id, { promote_wal_log_threshold: '12 apples' })).rejects.toThrow(
      /promote_wal_log_threshold/,
    );
  });
});

describe('replication_stall_timeout (default 10 s)', () => {
  /** The primary reports that no standby streams (rep state ''), the stall began `ago` seconds ago. */
  const stall = (m: Monitor, a: number, ago: number, settings: Record<string, string>) =>
    probe(m, settings, async () => {
      await m.active(a, 'primary', { rep: '' });
      await m.q(
        `update pgautofailover.node set replication_stall_since = now() - make_interval(secs => $2) where nodeid = $1`,
        [a, ago],
      );
      return m.active(a, 'primary', { rep: '' });
    });

  it.each([
    ['2s', 'wait_primary'],
    ['2000ms', 'wait_primary'],
    ['2000', 'wait_primary'],
    ['5s', 'primary'],
    ['5000ms', 'primary'],
    ['5000', 'primary'],
  ] as [string, State][])('= %s with no standby streaming for 3 s → primary goal %s', async (value, expected) => {
    const m = await ms.fresh();
    const { a } = await twoNodes(m);
    expect(await stall(m, a.id, 3, { replication_stall_timeout: value })).toBe(expected);
  });

  it('defaults to 10 s', async () => {
    const m = await ms.fresh();
    const { a } = await twoNodes(m);
    expect(await stall(m, a.id, 5, {})).toBe('primary');
    expect(await stall(m, a.id, 15, {})).toBe('wait_primary');
  });

  it('a nonsense value is an error naming the setting', async () => {
    const m = await ms.fresh();
    const { a } = await twoNodes(m);
    await expect(stall(m, a.id, 3, { replication_stall_timeout: 'xyz' })).rejects.toThrow(/replication_stall_timeout/);
  });
});
