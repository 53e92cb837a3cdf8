// The names of the monitor's pgautofailover.* settings (their defaults live in the extension:
// pgautofailover.setting_defaults()). PostgreSQL 15 accepts ALTER SYSTEM only for settings a
// backend already knows, so the monitor's settings file lists each one, empty (= default).

export const MONITOR_SETTING_NAMES = [
  'health_check_period',
  'health_check_timeout',
  'health_check_max_retries',
  'health_check_retry_delay',
  'node_considered_unhealthy_timeout',
  'primary_demote_timeout',
  'startup_grace_period',
  'enable_sync_wal_log_threshold',
  'promote_wal_log_threshold',
  'replication_stall_timeout',
  'guard_data_loss',
] as const;

/** Lines for postgresql.conf: every setting present, empty, so ALTER SYSTEM can set it. */
export function settingPlaceholderLines(): string[] {
  return [
    "# pgautofailover.* settings: '' means the extension's default (SELECT * FROM pgautofailover.monitor_settings());",
    '# they are listed so that ALTER SYSTEM SET pgautofailover.<name> works',
    ...MONITOR_SETTING_NAMES.map((n) => `pgautofailover.${n} = ''`),
  ];
}
