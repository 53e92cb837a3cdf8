-- Settings pgautofailover.*: only values that the monitor's owner sets count (issue #10.5):
-- postgresql.conf and its includes, ALTER SYSTEM (postgresql.auto.conf), and ALTER DATABASE
-- <monitor database> SET. A session's SET or set_config(), ALTER ROLE … SET and connection
-- options are ignored: a keeper session cannot turn the data-loss guard off or shrink a
-- timeout. Defaults when unset (or ''), units parsed here with clear errors.

CREATE FUNCTION pgautofailover.parse_duration_ms(setting text, raw text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  m text[];
  factor numeric;
BEGIN
  m := regexp_match(raw, '^\s*([0-9]+(?:\.[0-9]+)?)\s*(us|ms|s|min|h|d)?\s*$');
  IF m IS NULL THEN
    RAISE EXCEPTION 'invalid value for setting "%": "%"', setting, raw
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'expected a duration such as ''2s'', ''2000ms'' or ''1min''; a bare number is milliseconds';
  END IF;
  factor := CASE coalesce(m[2], 'ms')
              WHEN 'us' THEN 0.001 WHEN 'ms' THEN 1 WHEN 's' THEN 1000
              WHEN 'min' THEN 60000 WHEN 'h' THEN 3600000 ELSE 86400000 END;
  RETURN round(m[1]::numeric * factor)::bigint;
END
$$;

CREATE FUNCTION pgautofailover.parse_size_bytes(setting text, raw text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  m text[];
BEGIN
  m := regexp_match(raw, '^\s*([0-9]+)\s*(B|kB|MB|GB|TB)?\s*$', 'i');
  IF m IS NULL THEN
    RAISE EXCEPTION 'invalid value for setting "%": "%"', setting, raw
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'expected a size such as ''16MB'' or a number of bytes';
  END IF;
  RETURN m[1]::bigint * CASE upper(coalesce(m[2], 'B'))
                          WHEN 'B' THEN 1 WHEN 'KB' THEN 1024 WHEN 'MB' THEN 1048576
                          WHEN 'GB' THEN 1073741824 ELSE 1099511627776 END;
END
$$;

CREATE FUNCTION pgautofailover.parse_bool(setting text, raw text) RETURNS bool
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  CASE lower(btrim(raw))
    WHEN 'on', 'true', 'yes', '1', 't', 'y' THEN RETURN true;
    WHEN 'off', 'false', 'no', '0', 'f', 'n' THEN RETURN false;
    ELSE
      RAISE EXCEPTION 'invalid value for setting "%": "%"', setting, raw
        USING ERRCODE = 'invalid_parameter_value', HINT = 'expected on or off';
  END CASE;
END
$$;

CREATE FUNCTION pgautofailover.parse_int(setting text, raw text, lo int, hi int) RETURNS int
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF raw !~ '^\s*[0-9]{1,9}\s*$' OR btrim(raw)::int NOT BETWEEN lo AND hi THEN
    RAISE EXCEPTION 'invalid value for setting "%": "%"', setting, raw
      USING ERRCODE = 'invalid_parameter_value',
            HINT = format('expected an integer from %s to %s', lo, hi);
  END IF;
  RETURN btrim(raw)::int;
END
$$;

-- Every setting: name, kind, default (as text, parsed like a user value) and that default
-- parsed (ms, bytes, a count, or 0/1), so that the state machine parses only what is set.
CREATE FUNCTION pgautofailover.setting_defaults(
  OUT name text, OUT kind text, OUT default_value text, OUT default_number bigint)
RETURNS SETOF record LANGUAGE sql IMMUTABLE AS $$
  -- Fast detection (pg_auto_failover: 5s, 5s, 2, 2s, 20s, 30s). A node is failed over only
  -- when its keeper (heartbeat every 0.5 s) has been silent for node_considered_unhealthy_timeout
  -- AND 3 probes in a row got no answer at all from its postmaster (a refused connection
  -- fails at once; a silent host costs 3 x 500 ms + 2 x 250 ms): a busy server (checkpoint,
  -- GC pause or SIGSTOP of the keeper, saturated CPU and disk) still answers a probe, so it
  -- is not taken for dead (bench/saturation measures that: docs/benchmarks.md).
  -- primary_demote_timeout exceeds the keepers' self-fencing deadline (network_partition_timeout,
  -- 5 s) by a margin; it applies only when the old primary cannot be proven fenced (rule F1).
  VALUES ('health_check_period',               'duration', '500ms', 500),
         ('health_check_timeout',              'duration', '500ms', 500),
         ('health_check_max_retries',          'retries',  '2',     2),
         ('health_check_retry_delay',          'duration', '250ms', 250),
         ('node_considered_unhealthy_timeout', 'duration', '1200ms', 1200),
         ('primary_demote_timeout',            'duration', '10s',   10000),
         ('startup_grace_period',              'duration', '10s',   10000),
         ('enable_sync_wal_log_threshold',     'size',     '16MB',  16777216),
         ('promote_wal_log_threshold',         'size',     '16MB',  16777216),
         ('replication_stall_timeout',         'duration', '10s',   10000),
         ('guard_data_loss',                   'bool',     'on',    1)
$$;

-- The values the owner set, from the configuration files (the last occurrence, as the server
-- reads them) and from ALTER DATABASE <this database> SET (for every role), which wins as it
-- does for a new session. pg_file_settings reads the files as they are now: a change takes
-- effect without a reload. '' counts as unset. Runs as the extension owner (a superuser), the
-- only one who may read pg_file_settings.
CREATE FUNCTION pgautofailover.owner_settings(OUT name text, OUT value text, OUT source text)
RETURNS SETOF record LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  WITH files AS (
    SELECT DISTINCT ON (f.name) f.name, f.setting
      FROM pg_catalog.pg_file_settings f
     WHERE f.name LIKE 'pgautofailover.%' AND f.error IS NULL
     ORDER BY f.name, f.seqno DESC
  ), db AS (
    SELECT split_part(c, '=', 1) AS name, substr(c, strpos(c, '=') + 1) AS setting
      FROM pg_catalog.pg_db_role_setting s, unnest(s.setconfig) AS c
     WHERE s.setrole = 0 AND c LIKE 'pgautofailover.%'
       AND s.setdatabase = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = current_database())
  )
  SELECT substr(coalesce(db.name, files.name), length('pgautofailover.') + 1),
         coalesce(nullif(db.setting, ''), files.setting),
         CASE WHEN nullif(db.setting, '') IS NOT NULL THEN 'database' ELSE 'configuration file' END
    FROM files FULL JOIN db ON db.name = files.name
   WHERE coalesce(nullif(db.setting, ''), nullif(files.setting, '')) IS NOT NULL
$$;

-- The settings in force, parsed; raises a clear error naming a setting with a bad value.
CREATE FUNCTION pgautofailover.monitor_settings(
  OUT name text, OUT value text, OUT unit text, OUT numeric_value bigint, OUT is_default bool)
RETURNS SETOF record LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
DECLARE
  d record;
  full_name text;
BEGIN
  FOR d IN SELECT x.*, o.value AS owner_value
             FROM pgautofailover.setting_defaults() WITH ORDINALITY x
             LEFT JOIN pgautofailover.owner_settings() o ON o.name = x.name
            ORDER BY x.ordinality LOOP
    full_name := 'pgautofailover.' || d.name;
    name := d.name;
    is_default := d.owner_value IS NULL;
    value := coalesce(d.owner_value, d.default_value);
    CASE d.kind
      WHEN 'duration' THEN numeric_value := pgautofailover.parse_duration_ms(full_name, value); unit := 'ms';
      WHEN 'size'     THEN numeric_value := pgautofailover.parse_size_bytes(full_name, value); unit := 'bytes';
      WHEN 'retries'  THEN numeric_value := pgautofailover.parse_int(full_name, value, 1, 100); unit := '';
      ELSE numeric_value := pgautofailover.parse_bool(full_name, value)::int; unit := 'bool';
    END CASE;
    RETURN NEXT;
  END LOOP;
END
$$;

-- One line per setting, like pg_settings (issue #11.5): the documented replacement for
-- SELECT name, setting FROM pg_settings WHERE name LIKE 'pgautofailover.%', which shows none
-- (a SQL-only extension defines no GUC). setting is in unit (ms, B), source says where it was
-- set (default, configuration file, database); session values are not shown: they do not count.
CREATE FUNCTION pgautofailover.settings_in_force(
  OUT name text, OUT setting text, OUT unit text, OUT source text, OUT description text)
RETURNS SETOF record LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT 'pgautofailover.' || m.name,
         CASE m.unit WHEN 'bool' THEN CASE WHEN m.numeric_value = 1 THEN 'on' ELSE 'off' END ELSE m.numeric_value::text END,
         CASE m.unit WHEN 'ms' THEN 'ms' WHEN 'bytes' THEN 'B' END,
         coalesce((SELECT o.source FROM pgautofailover.owner_settings() o WHERE o.name = m.name), 'default'),
         CASE m.name
           WHEN 'health_check_period' THEN 'Time between two health-check rounds of the monitor.'
           WHEN 'health_check_timeout' THEN 'Connect timeout of one health-check probe.'
           WHEN 'health_check_max_retries' THEN 'Probes retried before a node is marked unhealthy.'
           WHEN 'health_check_retry_delay' THEN 'Time between two probes of one health check.'
           WHEN 'node_considered_unhealthy_timeout' THEN 'Keeper silence after which a node whose health check fails is unhealthy.'
           WHEN 'primary_demote_timeout' THEN 'Wait for an old primary to demote when nothing proves it is fenced.'
           WHEN 'startup_grace_period' THEN 'Time after the monitor starts during which no node is declared unhealthy.'
           WHEN 'enable_sync_wal_log_threshold' THEN 'WAL distance within which a catching-up standby becomes secondary.'
           WHEN 'promote_wal_log_threshold' THEN 'WAL distance within which a standby may be promoted.'
           WHEN 'replication_stall_timeout' THEN 'Time without a streaming standby after which a primary goes to wait_primary.'
           WHEN 'guard_data_loss' THEN 'An election waits for the LSN reports of the quorum standbys.'
         END
    FROM pgautofailover.monitor_settings() m
$$;

CREATE VIEW pgautofailover.settings AS SELECT * FROM pgautofailover.settings_in_force();

-- What the state machine reads, once per call.
CREATE TYPE pgautofailover.fsm_settings AS (
  unhealthy_timeout   interval,
  demote_timeout      interval,
  startup_grace       interval,
  sync_threshold      bigint,
  promote_threshold   bigint,
  stall_timeout       interval,
  guard_data_loss     bool
);

-- The text value in force for one setting: the one the owner set, else the default.
CREATE FUNCTION pgautofailover.setting_text(setting text) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT coalesce((SELECT o.value FROM pgautofailover.owner_settings() o WHERE o.name = setting),
                  (SELECT d.default_value FROM pgautofailover.setting_defaults() d WHERE d.name = setting))
$$;

-- What the state machine reads, parsed from the owner's values: unset settings take their
-- parsed default, set ones are parsed (a bad value is an error naming the setting). Reads the
-- configuration files (pg_file_settings): about 0.9 ms, so a heartbeat reads
-- fsm_settings() below, which keeps this result until what it was read from changes.
CREATE FUNCTION pgautofailover.read_fsm_settings() RETURNS pgautofailover.fsm_settings
LANGUAGE plpgsql STABLE AS $$
DECLARE
  s pgautofailover.fsm_settings;
  d record;
  raw text;
  v bigint;
BEGIN
  FOR d IN SELECT x.*, o.value AS owner_value
             FROM pgautofailover.setting_defaults() x LEFT JOIN pgautofailover.owner_settings() o ON o.name = x.name LOOP
    CONTINUE WHEN d.name NOT IN ('node_considered_unhealthy_timeout', 'primary_demote_timeout', 'startup_grace_period',
                                 'enable_sync_wal_log_threshold', 'promote_wal_log_threshold',
                                 'replication_stall_timeout', 'guard_data_loss');
    raw := d.owner_value;
    IF raw IS NULL THEN
      v := d.default_number;
    ELSIF d.kind = 'duration' THEN
      v := pgautofailover.parse_duration_ms('pgautofailover.' || d.name, raw);
    ELSIF d.kind = 'size' THEN
      v := pgautofailover.parse_size_bytes('pgautofailover.' || d.name, raw);
    ELSE
      v := pgautofailover.parse_bool('pgautofailover.' || d.name, raw)::int;
    END IF;
    CASE d.name
      WHEN 'node_considered_unhealthy_timeout' THEN s.unhealthy_timeout := v * interval '1 millisecond';
      WHEN 'primary_demote_timeout' THEN s.demote_timeout := v * interval '1 millisecond';
      WHEN 'startup_grace_period' THEN s.startup_grace := v * interval '1 millisecond';
      WHEN 'enable_sync_wal_log_threshold' THEN s.sync_threshold := v;
      WHEN 'promote_wal_log_threshold' THEN s.promote_threshold := v;
      WHEN 'replication_stall_timeout' THEN s.stall_timeout := v * interval '1 millisecond';
      ELSE s.guard_data_loss := v = 1;
    END CASE;
  END LOOP;
  RETURN s;
END
$$;

-- The settings cache (issue #12.4): the last read_fsm_settings() and what it was read from.
-- One row, written only by fsm_settings() below (running as the extension owner inside
-- node_active and the operator functions); no other role may read or write it (grants.sql).
-- A value in it is used only while all of these are unchanged, else the settings are read
-- again:
--   * ALTER DATABASE <this database> SET: the database's pg_db_role_setting row (db_config),
--     compared as the calling transaction sees it (an uncommitted ALTER DATABASE counts for
--     its own transaction, as before);
--   * a reload (pg_reload_conf(), SIGHUP): pg_conf_load_time() later than filled_at;
--   * the configuration files (a file edit, ALTER SYSTEM): size, modification and status
--     change times (pg_stat_file) of postgresql.conf, postgresql.auto.conf, every file
--     pg_file_settings listed at the last read (any setting, not only pgautofailover.*) and
--     the directories holding them (a file added to or removed from an include_dir).
--     pg_stat_file has a resolution of one second, so a read made less than 2 s after a file
--     changed is not kept: an edit in the same second keeping the size is seen too.
-- What is NOT seen without `SELECT pg_reload_conf()`: a setting put into an included file
-- that held no setting at all at the last read (pg_file_settings did not list it), or into a
-- file newly created in a directory holding no listed file (an include_if_exists target that
-- did not exist); the next reload, or any change to a listed file, reads it.
CREATE TABLE pgautofailover.settings_cache (
  singleton   bool PRIMARY KEY DEFAULT true CHECK (singleton),
  filled_at   timestamptz NOT NULL,
  db_config   text[],
  files       text[] NOT NULL,
  file_stamps text NOT NULL,
  fsm         pgautofailover.fsm_settings
);
-- the one row, empty: fsm_settings() fills it and never inserts (an insert would wait for a
-- concurrent one); without the row nothing is cached
INSERT INTO pgautofailover.settings_cache (filled_at, files, file_stamps) VALUES ('-infinity', '{}', '');

-- ALTER DATABASE <this database> SET …, for every role: the row owner_settings() reads.
CREATE FUNCTION pgautofailover.database_config() RETURNS text[]
LANGUAGE sql STABLE AS $$
  SELECT s.setconfig FROM pg_catalog.pg_db_role_setting s
   WHERE s.setrole = 0
     AND s.setdatabase = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
$$;

-- The files whose changes the cache watches: postgresql.conf, postgresql.auto.conf, every
-- file pg_file_settings lists now, and their directories (sorted, no duplicates).
CREATE FUNCTION pgautofailover.config_files() RETURNS text[]
LANGUAGE sql VOLATILE AS $$
  WITH f AS (
    SELECT pg_catalog.current_setting('config_file') AS path
    UNION SELECT pg_catalog.current_setting('data_directory') || '/postgresql.auto.conf'
    UNION SELECT s.sourcefile FROM pg_catalog.pg_file_settings s WHERE s.sourcefile IS NOT NULL
  )
  SELECT pg_catalog.array_agg(DISTINCT p ORDER BY p)
    FROM (SELECT f.path AS p FROM f
          UNION SELECT pg_catalog.regexp_replace(f.path, '/[^/]*$', '') FROM f WHERE f.path LIKE '/%/%') x
$$;

-- One text for the state of those files: size, modification and status change time (whole
-- seconds since the epoch, whatever the session's TimeZone), 'missing' for a file that is gone.
-- Sets newest to the latest of those times.
CREATE FUNCTION pgautofailover.config_file_stamps(files text[], OUT stamps text, OUT newest timestamptz)
LANGUAGE sql VOLATILE AS $$
  SELECT pg_catalog.string_agg(coalesce(s.size || ':' || extract(epoch FROM s.modification)::bigint
                                        || ':' || extract(epoch FROM s.change)::bigint, 'missing'), ','
                               ORDER BY f.i),
         pg_catalog.max(GREATEST(s.modification, s.change))
    FROM pg_catalog.unnest(files) WITH ORDINALITY AS f(path, i)
    LEFT JOIN LATERAL pg_catalog.pg_stat_file(f.path, true) s ON true
$$;

-- What the state machine reads, once per call: the cached settings while nothing they were
-- read from changed (see settings_cache), else read_fsm_settings(), kept for the next call
-- when no file changed in the last 2 s and the transaction may write. A bad value is not kept:
-- every call raises the error naming the setting until it is fixed. Only the owner's sources
-- count: nothing in here depends on the calling session's settings (times are compared as
-- timestamps, not text), and a keeper role can neither read nor write settings_cache.
CREATE FUNCTION pgautofailover.fsm_settings() RETURNS pgautofailover.fsm_settings
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  c pgautofailover.settings_cache;
  started timestamptz;
  db text[];
  watched text[];
  st record;
  s pgautofailover.fsm_settings;
BEGIN
  SELECT * INTO c FROM pgautofailover.settings_cache WHERE singleton;
  db := pgautofailover.database_config();
  IF c.singleton AND c.filled_at > pg_catalog.pg_conf_load_time() AND c.db_config IS NOT DISTINCT FROM db
     AND c.file_stamps = (pgautofailover.config_file_stamps(c.files)).stamps THEN
    RETURN c.fsm;
  END IF;
  -- Stamp the files before reading them: an edit after this point is seen by the next call.
  started := pg_catalog.clock_timestamp();
  watched := pgautofailover.config_files();
  st := pgautofailover.config_file_stamps(watched);
  s := pgautofailover.read_fsm_settings();
  -- a file listed now that was not stamped (an include added meanwhile): do not keep it
  IF NOT pgautofailover.config_files() <@ watched OR st.newest > started - interval '2 seconds'
     OR pg_catalog.current_setting('transaction_read_only') = 'on' THEN
    RETURN s;
  END IF;
  BEGIN
    -- another transaction writing it (it holds the row until it ends) wins: skip, never wait
    PERFORM 1 FROM pgautofailover.settings_cache WHERE singleton FOR UPDATE SKIP LOCKED;
    IF FOUND THEN
      UPDATE pgautofailover.settings_cache
         SET filled_at = started, db_config = db, files = watched, file_stamps = st.stamps, fsm = s
       WHERE singleton;
    END IF;
  EXCEPTION WHEN serialization_failure THEN
    NULL;  -- a repeatable read transaction older than the row's last write: not kept
  END;
  RETURN s;
END
$$;

-- PostgreSQL 15 accepts ALTER SYSTEM SET pgautofailover.<name> only for a name the server
-- already knows: tell the operator the one line that makes them known (a file that
-- `pgaf install-extension` writes beside the extension files), unless they are.
DO $placeholders$
DECLARE
  sharedir text;
BEGIN
  IF current_setting('pgautofailover.guard_data_loss', true) IS NULL THEN
    SELECT c.setting INTO sharedir FROM pg_catalog.pg_config c WHERE c.name = 'SHAREDIR';
    RAISE NOTICE 'to tune pgaf with ALTER SYSTEM SET pgautofailover.<name>, add this line to postgresql.conf and reload: include_if_exists = ''%/extension/pgaf-settings.conf''', sharedir
      USING HINT = 'SELECT * FROM pgautofailover.settings shows the values in force; ALTER DATABASE <this database> SET works without it';
  END IF;
END
$placeholders$;
