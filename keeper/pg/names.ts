// Names other pg_auto_failover nodes and tools expect on a data node (Compatibility: "Data nodes").

export const REPLICATION_USER = 'pgautofailover_replicator';
/** The role the monitor's health check logs in as. */
export const HEALTH_CHECK_USER = 'pgautofailover_monitor';
export const STANDBY_PREFIX = 'pgautofailover_standby_';

/** Slot name and application_name of node `nodeId`: pgautofailover_standby_<id>. */
export function standbyName(nodeId: number): string {
  return `${STANDBY_PREFIX}${nodeId}`;
}

/** The node id in a pgautofailover_standby_<id> name, or undefined for any other name. */
export function nodeIdOfStandbyName(name: string): number | undefined {
  const m = /^pgautofailover_standby_(\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

export const SETTINGS_FILE = 'postgresql-auto-failover.conf';
export const STANDBY_SETTINGS_FILE = 'postgresql-auto-failover-standby.conf';
export const STANDBY_SIGNAL = 'standby.signal';
/** The pgpass file in PGDATA with the replication password, for Postgres (primary_conninfo), pg_basebackup and pg_rewind. */
export const REPLICATION_PASSFILE = 'pgaf-replication.pgpass';
