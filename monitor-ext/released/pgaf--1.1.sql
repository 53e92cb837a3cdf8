\echo Use "CREATE EXTENSION pgaf" to load this file. \quit

-- schema.sql
-- Roles, schema, types and tables of the pgaf monitor.

DO $roles$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'autoctl_node') THEN
    CREATE ROLE autoctl_node WITH LOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'autoctl') THEN
    CREATE ROLE autoctl WITH LOGIN;
  END IF;
END
$roles$;

GRANT USAGE ON SCHEMA pgautofailover TO autoctl_node, autoctl;

CREATE TYPE pgautofailover.replication_state AS ENUM (
  'unknown', 'init', 'single', 'wait_primary', 'primary', 'draining',
  'demote_timeout', 'demoted', 'catchingup', 'secondary', 'prepare_promotion',
  'stop_replication', 'wait_standby', 'maintenance', 'join_primary',
  'apply_settings', 'prepare_maintenance', 'wait_maintenance', 'report_lsn',
  'fast_forward', 'join_secondary', 'dropped'
);

CREATE TABLE pgautofailover.formation (
  formationid          text NOT NULL DEFAULT 'default',
  kind                 text NOT NULL DEFAULT 'pgsql',
  dbname               name NOT NULL DEFAULT 'postgres',
  opt_secondary        bool NOT NULL DEFAULT true,
  number_sync_standbys int  NOT NULL DEFAULT 0,
  PRIMARY KEY (formationid),
  CHECK (kind IN ('pgsql', 'citus')),
  CHECK (number_sync_standbys >= 0)
);
INSERT INTO pgautofailover.formation (formationid) VALUES ('default');

CREATE TABLE pgautofailover.node (
  formationid             text NOT NULL DEFAULT 'default',
  nodeid                  bigserial,
  groupid                 int NOT NULL,
  nodename                text NOT NULL,
  nodehost                text NOT NULL,
  nodeport                int NOT NULL,
  sysidentifier           bigint,
  goalstate               pgautofailover.replication_state NOT NULL DEFAULT 'init',
  reportedstate           pgautofailover.replication_state NOT NULL,
  reportedpgisrunning     bool DEFAULT true,
  reportedrepstate        text DEFAULT 'async',
  reporttime              timestamptz NOT NULL DEFAULT now(),
  reportedtli             int NOT NULL DEFAULT 1 CHECK (reportedtli > 0),
  reportedlsn             pg_lsn NOT NULL DEFAULT '0/0',
  walreporttime           timestamptz NOT NULL DEFAULT now(),
  health                  integer NOT NULL DEFAULT -1,
  healthchecktime         timestamptz NOT NULL DEFAULT now(),
  statechangetime         timestamptz NOT NULL DEFAULT now(),
  candidatepriority       int NOT NULL DEFAULT 100,
  replicationquorum       bool NOT NULL DEFAULT true,
  nodecluster             text NOT NULL DEFAULT 'default',
  replication_stall_since timestamptz,
  -- the synchronous standbys of this node when it last converged in primary:
  -- synchronous_standby_names = ANY sync_quorum (pgautofailover_standby_<sync_standby_ids>)
  sync_standby_ids        bigint[],
  sync_quorum             int,
  -- those of them that confirmed, since, that they stopped streaming from this node
  fence_confirmed_ids     bigint[] NOT NULL DEFAULT '{}',
  UNIQUE (formationid, nodename),
  UNIQUE (nodehost, nodeport),
  CONSTRAINT system_identifier_is_null_at_init_only CHECK (
    sysidentifier IS NOT NULL
    OR reportedstate IN ('init', 'wait_standby', 'catchingup', 'dropped')
  ),
  CONSTRAINT same_system_identifier_within_group
    EXCLUDE USING gist (formationid WITH =, groupid WITH =, sysidentifier WITH <>)
    DEFERRABLE INITIALLY DEFERRED,
  CHECK (nodeport BETWEEN 1 AND 65535),
  CHECK (health IN (-1, 0, 1)),
  PRIMARY KEY (nodeid),
  FOREIGN KEY (formationid) REFERENCES pgautofailover.formation (formationid)
) WITH (fillfactor = 25);

CREATE INDEX node_formation_group ON pgautofailover.node (formationid, groupid);

CREATE TABLE pgautofailover.event (
  eventid           bigserial NOT NULL,
  eventtime         timestamptz NOT NULL DEFAULT now(),
  formationid       text NOT NULL,
  nodeid            bigint NOT NULL,
  groupid           int NOT NULL,
  nodename          text NOT NULL,
  nodehost          text NOT NULL,
  nodeport          integer NOT NULL,
  reportedstate     pgautofailover.replication_state NOT NULL,
  goalstate         pgautofailover.replication_state NOT NULL,
  reportedrepstate  text,
  reportedtli       int NOT NULL DEFAULT 1 CHECK (reportedtli > 0),
  reportedlsn       pg_lsn NOT NULL DEFAULT '0/0',
  candidatepriority int,
  replicationquorum bool,
  description       text,
  ruleid            text,
  PRIMARY KEY (eventid)
);

CREATE INDEX event_formation_group ON pgautofailover.event (formationid, groupid, eventid);

-- opt_secondary may only be turned off while every node is a lone `single`.
CREATE FUNCTION pgautofailover.check_disable_secondary() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT NEW.opt_secondary AND OLD.opt_secondary AND EXISTS (
       SELECT 1 FROM pgautofailover.node
        WHERE formationid = NEW.formationid AND goalstate <> 'single') THEN
    RAISE EXCEPTION 'cannot disable secondaries in formation "%": it has nodes that are not single', NEW.formationid
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'drop the standby nodes first';
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER disable_secondary_check
  BEFORE UPDATE ON pgautofailover.formation
  FOR EACH ROW EXECUTE FUNCTION pgautofailover.check_disable_secondary();

-- settings.sql
-- Settings pgautofailover.*: read with current_setting() (so ALTER SYSTEM, ALTER DATABASE,
-- ALTER ROLE and SET all work), defaults when unset, units parsed here with clear errors.

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
  -- when its keeper has been silent for node_considered_unhealthy_timeout AND 3 probes in a
  -- row, over 2 s, got no answer at all from its postmaster: a busy server (checkpoint, GC
  -- pause of the keeper, load) still answers a probe, so it is not taken for dead.
  -- primary_demote_timeout exceeds the keepers' self-fencing deadline (network_partition_timeout,
  -- 5 s) by a margin; it applies only when the old primary cannot be proven fenced (rule F1).
  VALUES ('health_check_period',               'duration', '1s',    1000),
         ('health_check_timeout',              'duration', '1s',    1000),
         ('health_check_max_retries',          'retries',  '2',     2),
         ('health_check_retry_delay',          'duration', '500ms', 500),
         ('node_considered_unhealthy_timeout', 'duration', '3s',    3000),
         ('primary_demote_timeout',            'duration', '10s',   10000),
         ('startup_grace_period',              'duration', '10s',   10000),
         ('enable_sync_wal_log_threshold',     'size',     '16MB',  16777216),
         ('promote_wal_log_threshold',         'size',     '16MB',  16777216),
         ('replication_stall_timeout',         'duration', '10s',   10000),
         ('guard_data_loss',                   'bool',     'on',    1)
$$;

-- The settings in force, parsed; raises a clear error naming a setting with a bad value.
CREATE FUNCTION pgautofailover.monitor_settings(
  OUT name text, OUT value text, OUT unit text, OUT numeric_value bigint, OUT is_default bool)
RETURNS SETOF record LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
  d record;
  full_name text;
BEGIN
  FOR d IN SELECT * FROM pgautofailover.setting_defaults() LOOP
    full_name := 'pgautofailover.' || d.name;
    name := d.name;
    is_default := nullif(current_setting(full_name, true), '') IS NULL;
    value := pgautofailover.setting_text(d.name);
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

-- The text value in force for one setting: the configured one, else the default.
CREATE FUNCTION pgautofailover.setting_text(setting text) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('pgautofailover.' || setting, true), ''),
                  (SELECT d.default_value FROM pgautofailover.setting_defaults() d WHERE d.name = setting))
$$;

-- What the state machine reads, once per call: unset settings take their parsed default,
-- set ones are parsed (a bad value is an error naming the setting).
CREATE FUNCTION pgautofailover.fsm_settings() RETURNS pgautofailover.fsm_settings
LANGUAGE plpgsql STABLE AS $$
DECLARE
  s pgautofailover.fsm_settings;
  d record;
  raw text;
  v bigint;
BEGIN
  FOR d IN SELECT * FROM pgautofailover.setting_defaults() LOOP
    CONTINUE WHEN d.name NOT IN ('node_considered_unhealthy_timeout', 'primary_demote_timeout', 'startup_grace_period',
                                 'enable_sync_wal_log_threshold', 'promote_wal_log_threshold',
                                 'replication_stall_timeout', 'guard_data_loss');
    raw := nullif(current_setting('pgautofailover.' || d.name, true), '');
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

-- node_metadata.sql
-- Named predicates over node rows, group lookups and the group locks.

CREATE FUNCTION pgautofailover.can_take_writes(s pgautofailover.replication_state) RETURNS bool
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT s IN ('single', 'primary', 'wait_primary', 'join_primary', 'apply_settings')
$$;

CREATE FUNCTION pgautofailover.belongs_to_primary(s pgautofailover.replication_state) RETURNS bool
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT pgautofailover.can_take_writes(s) OR s IN ('draining', 'demote_timeout', 'prepare_maintenance')
$$;

-- reported = goal = s
CREATE FUNCTION pgautofailover.is_current_state(n pgautofailover.node, s pgautofailover.replication_state)
RETURNS bool LANGUAGE sql IMMUTABLE AS $$
  SELECT n.nodeid IS NOT NULL AND n.reportedstate = s AND n.goalstate = s
$$;

-- converged to a writable state, or flipping between primary and apply_settings
CREATE FUNCTION pgautofailover.is_in_primary_state(n pgautofailover.node) RETURNS bool
LANGUAGE sql IMMUTABLE AS $$
  SELECT n.nodeid IS NOT NULL
     AND ((n.goalstate = n.reportedstate AND pgautofailover.can_take_writes(n.goalstate))
          OR (n.reportedstate = 'primary' AND n.goalstate = 'apply_settings')
          OR (n.reportedstate = 'apply_settings' AND n.goalstate = 'primary'))
$$;

CREATE FUNCTION pgautofailover.is_reporting(n pgautofailover.node, cfg pgautofailover.fsm_settings)
RETURNS bool LANGUAGE sql STABLE AS $$
  SELECT now() - n.reporttime <= cfg.unhealthy_timeout
$$;

-- (a) silent for node_considered_unhealthy_timeout, health check bad since the monitor
-- started, and past the startup grace; or (b) the keeper says Postgres is not running.
CREATE FUNCTION pgautofailover.is_unhealthy(n pgautofailover.node, cfg pgautofailover.fsm_settings)
RETURNS bool LANGUAGE sql STABLE AS $$
  SELECT n.nodeid IS NOT NULL
     AND ((now() - n.reporttime > cfg.unhealthy_timeout
           AND n.health = 0
           AND n.healthchecktime > pg_postmaster_start_time()
           AND now() - pg_postmaster_start_time() > cfg.startup_grace)
          OR NOT coalesce(n.reportedpgisrunning, true))
$$;

-- Postgres runs, and the health check agrees, or has no say yet (unknown while the keeper
-- reports), or is older than the keeper's last report.
CREATE FUNCTION pgautofailover.is_healthy(n pgautofailover.node, cfg pgautofailover.fsm_settings)
RETURNS bool LANGUAGE sql STABLE AS $$
  SELECT n.nodeid IS NOT NULL
     AND coalesce(n.reportedpgisrunning, true)
     AND (n.health = 1
          OR (n.health = -1 AND now() - n.reporttime <= cfg.unhealthy_timeout)
          OR (n.health = 0 AND n.reporttime > n.healthchecktime))
$$;

-- |lsn_a - lsn_b| <= delta; false when either LSN is 0/0; true when either node is missing.
CREATE FUNCTION pgautofailover.wal_diff_within(a pgautofailover.node, b pgautofailover.node, delta bigint)
RETURNS bool LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
           WHEN a.nodeid IS NULL OR b.nodeid IS NULL THEN true
           WHEN a.reportedlsn = '0/0' OR b.reportedlsn = '0/0' THEN false
           ELSE abs(a.reportedlsn - b.reportedlsn) <= delta
         END
$$;

-- old primary asked to stop, and primary_demote_timeout has passed since
CREATE FUNCTION pgautofailover.is_drain_time_expired(n pgautofailover.node, cfg pgautofailover.fsm_settings)
RETURNS bool LANGUAGE sql STABLE AS $$
  SELECT n.nodeid IS NOT NULL AND n.goalstate = 'demote_timeout'
     AND now() - n.statechangetime > cfg.demote_timeout
$$;

-- the primary's standbys have not streamed for replication_stall_timeout
CREATE FUNCTION pgautofailover.is_replication_stalled(n pgautofailover.node, cfg pgautofailover.fsm_settings)
RETURNS bool LANGUAGE sql STABLE AS $$
  SELECT n.replication_stall_since IS NOT NULL AND now() - n.replication_stall_since > cfg.stall_timeout
$$;

-- The first node whose goal is writable; else one whose reported state belongs to a primary.
CREATE FUNCTION pgautofailover.primary_or_demoted(formation text, grp int) RETURNS pgautofailover.node
LANGUAGE plpgsql STABLE AS $$
DECLARE
  n pgautofailover.node;
BEGIN
  SELECT * INTO n FROM pgautofailover.node
   WHERE formationid = formation AND groupid = grp AND pgautofailover.can_take_writes(goalstate)
   ORDER BY nodeid LIMIT 1;
  IF n.nodeid IS NULL THEN
    SELECT * INTO n FROM pgautofailover.node
     WHERE formationid = formation AND groupid = grp AND pgautofailover.belongs_to_primary(reportedstate)
     ORDER BY nodeid LIMIT 1;
  END IF;
  RETURN n;
END
$$;

CREATE FUNCTION pgautofailover.is_failover_in_progress(formation text, grp int) RETURNS bool
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM pgautofailover.node
     WHERE formationid = formation AND groupid = grp
       AND (goalstate IN ('report_lsn', 'fast_forward', 'prepare_promotion', 'stop_replication', 'join_secondary')
            OR reportedstate IN ('report_lsn', 'fast_forward', 'prepare_promotion', 'stop_replication')))
$$;

-- healthy standbys that may be promoted: reported secondary, priority > 0
CREATE FUNCTION pgautofailover.count_healthy_candidates(p pgautofailover.node, cfg pgautofailover.fsm_settings)
RETURNS int LANGUAGE sql STABLE AS $$
  SELECT count(*)::int FROM pgautofailover.node n
   WHERE n.formationid = p.formationid AND n.groupid = p.groupid AND n.nodeid <> p.nodeid
     AND n.reportedstate = 'secondary' AND n.goalstate IN ('secondary', 'report_lsn')
     AND n.candidatepriority > 0 AND pgautofailover.is_healthy(n, cfg)
$$;

-- Concurrent calls for one group serialize on the group lock; every caller takes the
-- formation lock (shared) first and the group lock second, so they cannot deadlock.
CREATE FUNCTION pgautofailover.lock_group(formation text, grp int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(hashtext('pgautofailover.formation'), hashtext(formation));
  PERFORM pg_advisory_xact_lock(hashtext('pgautofailover.group:' || formation), grp);
END
$$;

CREATE FUNCTION pgautofailover.lock_formation_exclusive(formation text) RETURNS void
LANGUAGE sql AS $$
  SELECT pg_advisory_xact_lock(hashtext('pgautofailover.formation'), hashtext(formation));
$$;

CREATE FUNCTION pgautofailover.health_name(h int) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE h WHEN 1 THEN 'good' WHEN 0 THEN 'bad' ELSE 'unknown' END
$$;

CREATE FUNCTION pgautofailover.node_label(n pgautofailover.node) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT 'node ' || n.nodeid || ' "' || n.nodename || '" (' || n.nodehost || ':' || n.nodeport || ')'
$$;

-- Rule F1: old primary p ran with synchronous_standby_names = ANY k (n standbys) when it last
-- converged in primary; once n-k+1 of them confirmed they stopped streaming from it, no
-- transaction with the default synchronous_commit can commit on it any more.
CREATE FUNCTION pgautofailover.is_fenced_by_sync(p pgautofailover.node) RETURNS bool
LANGUAGE sql IMMUTABLE AS $$
  SELECT p.nodeid IS NOT NULL
     AND p.sync_quorum >= 1
     AND cardinality(p.sync_standby_ids) >= p.sync_quorum
     AND (SELECT count(*) FROM unnest(p.sync_standby_ids) id WHERE id = ANY (p.fence_confirmed_ids))
         >= cardinality(p.sync_standby_ids) - p.sync_quorum + 1
$$;

-- events.sql
-- Event rows and notifications: every goal change and every newly reported state.

-- Writes the event row for node n (as it is now), NOTIFYs 'state' (JSON) and 'log' (text).
CREATE FUNCTION pgautofailover.notify_event(n pgautofailover.node, rule text, description text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO pgautofailover.event
    (formationid, nodeid, groupid, nodename, nodehost, nodeport, reportedstate, goalstate,
     reportedrepstate, reportedtli, reportedlsn, candidatepriority, replicationquorum,
     description, ruleid)
  VALUES
    (n.formationid, n.nodeid, n.groupid, n.nodename, n.nodehost, n.nodeport, n.reportedstate,
     n.goalstate, n.reportedrepstate, n.reportedtli, n.reportedlsn, n.candidatepriority,
     n.replicationquorum, description, rule);
  PERFORM pg_notify('state', json_build_object(
    'type', 'state', 'formation', n.formationid, 'groupId', n.groupid, 'nodeId', n.nodeid,
    'name', n.nodename, 'host', n.nodehost, 'port', n.nodeport,
    'reportedState', n.reportedstate, 'goalState', n.goalstate,
    'health', pgautofailover.health_name(n.health), 'rule', rule)::text);
  PERFORM pg_notify('log', format('[%s] %s', rule, description));
END
$$;

-- An event that changes no goal (elections that wait or refuse), written once:
-- not again while the group's last event says the same.
CREATE FUNCTION pgautofailover.notify_once(n pgautofailover.node, rule text, description text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce((SELECT e.description FROM pgautofailover.event e
                WHERE e.formationid = n.formationid AND e.groupid = n.groupid
                ORDER BY e.eventid DESC LIMIT 1), '') <> description THEN
    PERFORM pgautofailover.notify_event(n, rule, description);
  END IF;
END
$$;

-- Sets node_id's goal state (when it differs), with its event. Returns the updated row.
CREATE FUNCTION pgautofailover.assign_goal(
  node_id bigint, goal pgautofailover.replication_state, rule text, description text)
RETURNS pgautofailover.node LANGUAGE plpgsql AS $$
DECLARE
  n pgautofailover.node;
BEGIN
  UPDATE pgautofailover.node SET goalstate = goal, statechangetime = now()
   WHERE nodeid = node_id AND goalstate IS DISTINCT FROM goal
  RETURNING * INTO n;
  IF n.nodeid IS NULL THEN
    SELECT * INTO n FROM pgautofailover.node WHERE nodeid = node_id;
    RETURN n;
  END IF;
  PERFORM pgautofailover.notify_event(n, rule, description);
  RETURN n;
END
$$;

-- assign_goal with the standard sentence: "Setting goal state of <node> to <goal>: <why>."
CREATE FUNCTION pgautofailover.set_goal(
  n pgautofailover.node, goal pgautofailover.replication_state, rule text, why text)
RETURNS pgautofailover.node LANGUAGE sql AS $$
  SELECT pgautofailover.assign_goal(n.nodeid, goal, rule,
           format('Setting goal state of %s to %s: %s.', pgautofailover.node_label(n), goal, why))
$$;

-- health.sql
-- Health checks: written by the health worker (a separate process on the monitor host).
-- It never runs the state machine; a change of health is an event and a NOTIFY.

-- Records one probe round: health (0 bad, 1 good) for each node id. Returns the ids whose
-- health changed.
CREATE FUNCTION pgautofailover.report_health(node_ids bigint[], healths int[])
RETURNS SETOF bigint LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
  n pgautofailover.node;
  r record;
BEGIN
  IF cardinality(node_ids) <> cardinality(healths) THEN
    RAISE EXCEPTION 'report_health needs as many health values (%) as node ids (%)', cardinality(healths), cardinality(node_ids)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF EXISTS (SELECT 1 FROM unnest(healths) h WHERE h NOT IN (0, 1)) THEN
    RAISE EXCEPTION 'health values must be 0 (bad) or 1 (good)' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR r IN SELECT u.id, u.h FROM unnest(node_ids, healths) AS u(id, h) ORDER BY u.id LOOP
    SELECT * INTO n FROM pgautofailover.node WHERE nodeid = r.id;
    CONTINUE WHEN n.nodeid IS NULL;
    -- the same lock order as node_active, so the two never deadlock
    PERFORM pgautofailover.lock_group(n.formationid, n.groupid);
    SELECT * INTO n FROM pgautofailover.node WHERE nodeid = r.id;
    CONTINUE WHEN n.nodeid IS NULL;
    UPDATE pgautofailover.node SET health = r.h, healthchecktime = now() WHERE nodeid = r.id;
    IF n.health IS DISTINCT FROM r.h THEN
      n.health := r.h;
      PERFORM pgautofailover.notify_event(n, 'HC', format('%s is marked as %s by the monitor.',
        pgautofailover.node_label(n), CASE WHEN r.h = 1 THEN 'healthy' ELSE 'unhealthy' END));
      RETURN NEXT n.nodeid;
    END IF;
  END LOOP;
END
$$;

-- What the health worker probes, with its settings.
CREATE FUNCTION pgautofailover.health_check_targets(
  OUT node_id bigint, OUT node_host text, OUT node_port int, OUT health int)
RETURNS SETOF record LANGUAGE sql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
  SELECT nodeid, nodehost, nodeport, health FROM pgautofailover.node ORDER BY nodeid
$$;

-- data_loss.sql
-- The operator's data-loss allowance ([HEAD] rows 379–387: `perform failover --allow-data-loss`).
-- guard_data_loss (on by default) makes a multi-standby election wait while a quorum standby
-- has not reported its LSN or too few quorum candidates reported. An allowance lifts that
-- guard for one formation group only, until the group has a primary again (converged
-- primary or wait_primary) or until it expires, whichever comes first (rule H379, events A8).

CREATE TABLE pgautofailover.data_loss_allowance (
  formationid text NOT NULL REFERENCES pgautofailover.formation (formationid) ON DELETE CASCADE,
  groupid     int NOT NULL CHECK (groupid >= 0),
  granted_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  granted_by  name NOT NULL DEFAULT session_user,
  PRIMARY KEY (formationid, groupid),
  CHECK (expires_at > granted_at)
);

-- H379: is the data-loss guard of this group lifted by an operator's allowance right now?
CREATE FUNCTION pgautofailover.data_loss_guard_lifted(formation text, grp int) RETURNS bool
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM pgautofailover.data_loss_allowance d
                  WHERE d.formationid = formation AND d.groupid = grp AND d.expires_at > now())
$$;

-- A8: p converged in primary or wait_primary, so the group has a primary again: the
-- allowance of its group (if any) ends, and a later election is guarded again.
CREATE FUNCTION pgautofailover.end_data_loss_allowance(p pgautofailover.node) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  ended timestamptz;
BEGIN
  DELETE FROM pgautofailover.data_loss_allowance d
   WHERE d.formationid = p.formationid AND d.groupid = p.groupid
  RETURNING d.expires_at INTO ended;
  IF ended IS NOT NULL THEN
    PERFORM pgautofailover.notify_event(p, 'A8', format(
      'The data-loss guard of formation "%s" group %s is in force again: %s is %s, the operator''s allowance ends%s.',
      p.formationid, p.groupid, pgautofailover.node_label(p), p.reportedstate,
      CASE WHEN ended <= now() THEN ' (it had expired)' ELSE '' END));
  END IF;
END
$$;

-- A8: the operator lifts the data-loss guard of one group for valid_for_seconds (1 to 3600),
-- until the group has a primary again. Called by `perform failover --allow-data-loss` in the
-- transaction that calls perform_failover(). failover_in_progress is true when the group has
-- no node with a writable goal (its primary is already being replaced): the allowance alone
-- lets the waiting election go on, and perform_failover() is not needed.
CREATE FUNCTION pgautofailover.allow_data_loss(
  formation_id text, group_id int, valid_for_seconds int,
  OUT allowed_until timestamptz, OUT failover_in_progress bool)
RETURNS record LANGUAGE plpgsql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
  n pgautofailover.node;
BEGIN
  IF formation_id IS NULL OR group_id IS NULL OR valid_for_seconds IS NULL THEN
    RAISE EXCEPTION 'allow_data_loss needs a formation, a group and a number of seconds, not NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF group_id < 0 THEN
    RAISE EXCEPTION 'invalid group %: a group id is 0 or more', group_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF valid_for_seconds NOT BETWEEN 1 AND 3600 THEN
    RAISE EXCEPTION 'invalid allowance of % seconds: the data-loss guard may be lifted for 1 to 3600 seconds', valid_for_seconds
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pgautofailover.lock_group(formation_id, group_id);
  IF NOT EXISTS (SELECT 1 FROM pgautofailover.formation f WHERE f.formationid = formation_id) THEN
    RAISE EXCEPTION 'formation "%" does not exist', formation_id USING ERRCODE = 'undefined_object';
  END IF;
  -- the event goes on the node with a writable goal, else on the first node of the group
  SELECT * INTO n FROM pgautofailover.node x
   WHERE x.formationid = formation_id AND x.groupid = group_id AND x.goalstate <> 'dropped'
   ORDER BY pgautofailover.can_take_writes(x.goalstate) DESC, x.nodeid LIMIT 1;
  IF n.nodeid IS NULL THEN
    PERFORM pgautofailover.refuse(format(
      'cannot lift the data-loss guard of formation "%s" group %s: the group has no node', formation_id, group_id));
  END IF;

  allowed_until := now() + valid_for_seconds * interval '1 second';
  failover_in_progress := NOT pgautofailover.can_take_writes(n.goalstate);
  DELETE FROM pgautofailover.data_loss_allowance d WHERE d.expires_at <= now();
  INSERT INTO pgautofailover.data_loss_allowance AS d (formationid, groupid, granted_at, expires_at, granted_by)
  VALUES (formation_id, group_id, now(), allowed_until, session_user)
  ON CONFLICT (formationid, groupid)
  DO UPDATE SET granted_at = excluded.granted_at, expires_at = excluded.expires_at, granted_by = excluded.granted_by;

  PERFORM pgautofailover.notify_event(n, 'A8', format(
    'The operator (%s) lifted the data-loss guard of formation "%s" group %s (primary or first node %s) until %s: '
    'an election may promote a standby without the LSN report of every quorum standby, and acknowledged writes may be lost.',
    session_user, formation_id, group_id, pgautofailover.node_label(n), allowed_until));
END
$$;

-- group_fsm.sql
-- The group state machine (spec §2.2–§2.4): run inside node_active, register_node and the
-- operator APIs, under the group lock. Each rule has a stable id (monitor-ext/RULES.md).

-- Primary rules (§2.4) for p, which is in a primary state. Returns true when a goal changed.
CREATE FUNCTION pgautofailover.proceed_primary(p pgautofailover.node, cfg pgautofailover.fsm_settings)
RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
  o pgautofailover.node;
  nss int;
  secondary_quorum int;
  quorum_count int;
  any_secondary bool;
  target pgautofailover.replication_state;
  changed bool := false;
  why text;
BEGIN
  -- P1
  IF pgautofailover.is_current_state(p, 'single') THEN
    SELECT * INTO o FROM pgautofailover.node
     WHERE formationid = p.formationid AND groupid = p.groupid AND nodeid <> p.nodeid
       AND reportedstate = 'wait_standby' AND goalstate = 'wait_standby'
     ORDER BY nodeid LIMIT 1;
    IF o.nodeid IS NOT NULL THEN
      PERFORM pgautofailover.set_goal(p, 'wait_primary', 'P1',
        format('%s is waiting to join as a standby', pgautofailover.node_label(o)));
      RETURN true;
    END IF;
    RETURN false;
  END IF;

  -- P3
  IF p.goalstate = 'join_primary' AND p.reportedstate IN ('join_primary', 'primary') THEN
    PERFORM pgautofailover.set_goal(p, 'primary', 'P3', 'join_primary is no longer used, primary replaces it');
    RETURN true;
  END IF;

  IF NOT pgautofailover.is_in_primary_state(p) OR p.reportedstate = 'single' THEN
    RETURN false;
  END IF;

  -- P2a: an unhealthy secondary is no longer a promotion candidate
  FOR o IN SELECT * FROM pgautofailover.node
            WHERE formationid = p.formationid AND groupid = p.groupid AND nodeid <> p.nodeid
              AND goalstate = 'secondary' AND reportedstate NOT IN ('report_lsn', 'join_secondary')
            ORDER BY nodeid LOOP
    IF pgautofailover.is_unhealthy(o, cfg) THEN
      PERFORM pgautofailover.set_goal(o, 'catchingup', 'P2a',
        format('it is unhealthy (health %s, Postgres %s, last report at %s), so it cannot be promoted',
               pgautofailover.health_name(o.health),
               CASE WHEN coalesce(o.reportedpgisrunning, true) THEN 'running' ELSE 'not running' END,
               o.reporttime));
      changed := true;
    END IF;
  END LOOP;

  SELECT f.number_sync_standbys INTO nss FROM pgautofailover.formation f WHERE f.formationid = p.formationid;

  -- H303: nothing streams from a primary that favours availability (nss = 0)
  IF nss = 0 AND pgautofailover.is_current_state(p, 'primary')
     AND pgautofailover.is_replication_stalled(p, cfg) THEN
    FOR o IN SELECT * FROM pgautofailover.node
              WHERE formationid = p.formationid AND groupid = p.groupid AND nodeid <> p.nodeid
                AND goalstate = 'secondary' ORDER BY nodeid LOOP
      PERFORM pgautofailover.set_goal(o, 'catchingup', 'H303',
        format('no standby has streamed from primary %s since %s', pgautofailover.node_label(p), p.replication_stall_since));
    END LOOP;
    PERFORM pgautofailover.set_goal(p, 'wait_primary', 'H303',
      format('no standby has streamed from it since %s (replication_stall_timeout %s) and number_sync_standbys is 0, so synchronous replication is turned off',
             p.replication_stall_since, cfg.stall_timeout));
    RETURN true;
  END IF;

  SELECT count(*) FILTER (WHERE reportedstate = 'secondary' AND goalstate = 'secondary' AND replicationquorum),
         count(*) FILTER (WHERE replicationquorum),
         bool_or(reportedstate = 'secondary' AND goalstate = 'secondary')
    INTO secondary_quorum, quorum_count, any_secondary
    FROM pgautofailover.node
   WHERE formationid = p.formationid AND groupid = p.groupid AND nodeid <> p.nodeid;
  any_secondary := coalesce(any_secondary, false);

  IF p.goalstate = 'apply_settings' AND p.reportedstate <> 'apply_settings' THEN
    RETURN changed;  -- let the keeper apply the new settings first
  END IF;

  IF quorum_count = 0 THEN
    -- P2b
    target := CASE WHEN any_secondary THEN 'primary' ELSE 'wait_primary' END;
    why := CASE WHEN any_secondary
                THEN 'every standby is asynchronous (replication quorum false) and one is secondary'
                ELSE 'every standby is asynchronous (replication quorum false) and none is secondary' END;
    IF p.goalstate <> target THEN
      PERFORM pgautofailover.set_goal(p, target, 'P2b', why);
      RETURN true;
    END IF;
  ELSIF NOT pgautofailover.is_current_state(p, 'wait_primary') AND secondary_quorum = 0 THEN
    -- P2c
    target := CASE WHEN nss = 0 THEN 'wait_primary' ELSE 'primary' END;
    IF p.goalstate <> target THEN
      PERFORM pgautofailover.set_goal(p, target, 'P2c',
        CASE WHEN nss = 0
             THEN 'no quorum standby is secondary and number_sync_standbys is 0, so synchronous replication is turned off'
             ELSE format('no quorum standby is secondary and number_sync_standbys is %s, so writes wait for a standby', nss) END);
      RETURN true;
    END IF;
  ELSIF pgautofailover.is_current_state(p, 'wait_primary') AND secondary_quorum > 0 THEN
    -- P2d
    PERFORM pgautofailover.set_goal(p, 'primary', 'P2d',
      format('%s quorum standby(s) now secondary, synchronous replication can be turned on', secondary_quorum));
    RETURN true;
  ELSIF pgautofailover.is_current_state(p, 'apply_settings') THEN
    -- P2e
    target := CASE WHEN nss = 0 AND secondary_quorum = 0 THEN 'wait_primary' ELSE 'primary' END;
    PERFORM pgautofailover.set_goal(p, target, 'P2e', 'the new replication settings are applied');
    RETURN true;
  END IF;
  RETURN changed;
END
$$;

-- Rules for a node that is not in a primary state (§2.3), p being the group's primary or
-- demoted primary (may be NULL).
CREATE FUNCTION pgautofailover.proceed_standby(
  a pgautofailover.node, p pgautofailover.node, cfg pgautofailover.fsm_settings)
RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
  plabel text := CASE WHEN p.nodeid IS NULL THEN 'none' ELSE pgautofailover.node_label(p) END;
BEGIN
  -- N1, N2
  IF pgautofailover.is_current_state(a, 'report_lsn') AND p.nodeid IS NOT NULL AND p.nodeid <> a.nodeid
     AND pgautofailover.is_healthy(p, cfg) THEN
    IF pgautofailover.is_current_state(p, 'wait_primary') OR pgautofailover.is_current_state(p, 'join_primary') THEN
      PERFORM pgautofailover.set_goal(a, 'secondary', 'N1', format('primary %s is %s and healthy', plabel, p.reportedstate));
      RETURN true;
    ELSIF pgautofailover.is_current_state(p, 'primary') THEN
      PERFORM pgautofailover.set_goal(a, 'secondary', 'N2', format('primary %s is primary and healthy', plabel));
      RETURN true;
    END IF;
  END IF;

  -- N3
  IF pgautofailover.is_current_state(a, 'fast_forward') THEN
    PERFORM pgautofailover.set_goal(a, 'prepare_promotion', 'N3',
      format('it fetched the missing WAL up to %s', a.reportedlsn));
    RETURN true;
  END IF;

  -- N4: an election in progress
  IF a.reportedstate IN ('report_lsn', 'fast_forward') OR a.goalstate IN ('report_lsn', 'fast_forward') THEN
    RETURN pgautofailover.proceed_election(a, p, cfg);
  END IF;

  -- N5, N6, N7
  IF pgautofailover.is_current_state(a, 'wait_standby') AND p.nodeid IS NOT NULL THEN
    IF pgautofailover.is_current_state(p, 'wait_primary') OR pgautofailover.is_current_state(p, 'join_primary') THEN
      PERFORM pgautofailover.set_goal(a, 'catchingup', 'N5', format('primary %s is ready for a standby (%s)', plabel, p.reportedstate));
      RETURN true;
    ELSIF pgautofailover.is_current_state(p, 'primary') THEN
      IF a.replicationquorum THEN
        PERFORM pgautofailover.set_goal(a, 'catchingup', 'N6', format('primary %s is ready for a standby', plabel));
        PERFORM pgautofailover.set_goal(p, 'apply_settings', 'N6',
          format('quorum standby %s joins, synchronous_standby_names must change', pgautofailover.node_label(a)));
      ELSE
        PERFORM pgautofailover.set_goal(a, 'catchingup', 'N7', format('primary %s is ready for an asynchronous standby', plabel));
      END IF;
      RETURN true;
    END IF;
  END IF;

  -- N8
  IF pgautofailover.is_current_state(a, 'catchingup') AND p.nodeid IS NOT NULL
     AND p.reportedstate IN ('wait_primary', 'join_primary', 'primary')
     AND p.goalstate IN ('wait_primary', 'join_primary', 'primary')
     AND pgautofailover.is_healthy(a, cfg)
     AND a.reportedtli = p.reportedtli
     AND pgautofailover.wal_diff_within(a, p, cfg.sync_threshold)
     AND NOT pgautofailover.is_replication_stalled(p, cfg) THEN
    PERFORM pgautofailover.set_goal(a, 'secondary', 'N8',
      format('it caught up with primary %s: timeline %s, %s bytes behind, within enable_sync_wal_log_threshold %s',
             plabel, a.reportedtli, abs(p.reportedlsn - a.reportedlsn), cfg.sync_threshold));
    RETURN true;
  END IF;

  -- H301
  IF pgautofailover.is_current_state(a, 'secondary') AND pgautofailover.is_in_primary_state(p)
     AND pgautofailover.is_healthy(p, cfg) AND a.reportedtli <> p.reportedtli THEN
    PERFORM pgautofailover.set_goal(a, 'catchingup', 'H301',
      format('it reports timeline %s but primary %s is on timeline %s', a.reportedtli, plabel, p.reportedtli));
    RETURN true;
  END IF;

  -- N9, H323: 2-node failover
  IF pgautofailover.is_current_state(a, 'secondary') AND pgautofailover.is_in_primary_state(p)
     AND pgautofailover.is_unhealthy(p, cfg) AND pgautofailover.is_healthy(a, cfg)
     AND a.candidatepriority > 0
     AND pgautofailover.wal_diff_within(a, p, cfg.promote_threshold) THEN
    IF pgautofailover.is_current_state(p, 'wait_primary') THEN
      PERFORM pgautofailover.set_goal(a, 'prepare_promotion', 'H323',
        format('primary %s is unhealthy (it was wait_primary)', plabel));
    ELSE
      PERFORM pgautofailover.set_goal(a, 'prepare_promotion', 'N9',
        format('primary %s is unhealthy and this standby is %s bytes behind it, within promote_wal_log_threshold %s',
               plabel, abs(p.reportedlsn - a.reportedlsn), cfg.promote_threshold));
      PERFORM pgautofailover.set_goal(p, 'draining', 'N9',
        format('it is unhealthy and standby %s is being promoted', pgautofailover.node_label(a)));
    END IF;
    RETURN true;
  END IF;

  -- N10, N11
  IF pgautofailover.is_current_state(a, 'wait_maintenance') THEN
    IF pgautofailover.is_current_state(p, 'wait_primary') THEN
      PERFORM pgautofailover.set_goal(a, 'maintenance', 'N10', format('primary %s runs without synchronous replication now', plabel));
      RETURN true;
    ELSIF p.nodeid IS NULL OR p.goalstate <> 'wait_primary' THEN
      PERFORM pgautofailover.set_goal(a, 'maintenance', 'N11', format('primary %s does not need to wait for it', plabel));
      RETURN true;
    END IF;
  END IF;

  -- a primary being removed may still take writes: no candidate moves on before it confirmed
  IF a.goalstate IN ('prepare_promotion', 'stop_replication') AND p.nodeid IS NOT NULL AND p.goalstate = 'dropped' THEN
    RETURN false;
  END IF;

  IF pgautofailover.is_current_state(a, 'prepare_promotion') THEN
    -- N12
    IF pgautofailover.is_current_state(p, 'prepare_maintenance') THEN
      PERFORM pgautofailover.set_goal(a, 'stop_replication', 'N12', format('primary %s is stopping for maintenance', plabel));
      RETURN true;
    -- a live old primary still stopping: its last WAL is worth waiting for (no rewind later)
    ELSIF p.nodeid IS NOT NULL AND p.nodeid <> a.nodeid AND p.goalstate = 'draining'
          AND pgautofailover.can_take_writes(p.reportedstate)
          AND pgautofailover.is_healthy(p, cfg) AND pgautofailover.is_reporting(p, cfg)
          AND now() - p.statechangetime < cfg.demote_timeout THEN
      RETURN false;
    -- N15
    ELSIF p.nodeid IS NOT NULL AND p.nodeid <> a.nodeid AND p.goalstate NOT IN ('maintenance', 'prepare_maintenance') THEN
      PERFORM pgautofailover.set_goal(a, 'stop_replication', 'N15',
        format('it is the promotion candidate and old primary %s must be demoted first', plabel));
      PERFORM pgautofailover.set_goal(p, 'demote_timeout', 'N15',
        format('standby %s is being promoted', pgautofailover.node_label(a)));
      RETURN true;
    -- N16
    ELSIF p.nodeid IS NULL THEN
      PERFORM pgautofailover.set_goal(a, 'wait_primary', 'N16', 'there is no primary left in its group');
      RETURN true;
    END IF;
  END IF;

  IF pgautofailover.is_current_state(a, 'stop_replication') THEN
    -- N17
    IF pgautofailover.is_current_state(p, 'prepare_maintenance') THEN
      PERFORM pgautofailover.set_goal(a, 'wait_primary', 'N17', format('old primary %s stopped for maintenance', plabel));
      PERFORM pgautofailover.set_goal(p, 'maintenance', 'N17', format('standby %s took over', pgautofailover.node_label(a)));
      RETURN true;
    -- N18
    ELSIF pgautofailover.is_current_state(p, 'demote_timeout') THEN
      PERFORM pgautofailover.set_goal(a, 'wait_primary', 'N18', format('old primary %s confirmed it stopped (demote_timeout)', plabel));
      PERFORM pgautofailover.set_goal(p, 'demoted', 'N18', format('it confirmed it stopped and %s takes writes', pgautofailover.node_label(a)));
      RETURN true;
    -- F1
    ELSIF pgautofailover.is_fenced_by_sync(p) THEN
      PERFORM pgautofailover.set_goal(a, 'wait_primary', 'F1', format(
        'old primary %s cannot commit any more: it ran with synchronous_standby_names ANY %s (%s) and %s of those standbys confirmed they stopped streaming from it (%s needed)',
        plabel, p.sync_quorum, array_to_string(p.sync_standby_ids, ', '),
        (SELECT count(*) FROM unnest(p.sync_standby_ids) id WHERE id = ANY (p.fence_confirmed_ids)),
        cardinality(p.sync_standby_ids) - p.sync_quorum + 1));
      PERFORM pgautofailover.set_goal(p, 'demoted', 'F1',
        format('it can no longer commit and %s takes writes', pgautofailover.node_label(a)));
      RETURN true;
    ELSIF pgautofailover.is_drain_time_expired(p, cfg) THEN
      PERFORM pgautofailover.set_goal(a, 'wait_primary', 'N18',
        format('old primary %s did not confirm it stopped, and primary_demote_timeout %s has passed since %s',
               plabel, cfg.demote_timeout, p.statechangetime));
      PERFORM pgautofailover.set_goal(p, 'demoted', 'N18',
        format('primary_demote_timeout %s passed and %s takes writes', cfg.demote_timeout, pgautofailover.node_label(a)));
      RETURN true;
    ELSIF p.nodeid IS NULL THEN
      PERFORM pgautofailover.set_goal(a, 'wait_primary', 'N18', 'there is no old primary left to wait for');
      RETURN true;
    END IF;
  END IF;

  -- H207
  IF a.reportedstate = 'demote_timeout'
     AND a.goalstate NOT IN ('demote_timeout', 'demoted', 'primary', 'single', 'report_lsn', 'dropped', 'maintenance') THEN
    PERFORM pgautofailover.set_goal(a, 'demoted', 'H207',
      format('it reported demote_timeout and cannot reach %s from there', a.goalstate));
    RETURN true;
  END IF;

  -- N21, N22
  IF pgautofailover.is_current_state(a, 'demoted') AND p.nodeid IS NOT NULL AND p.nodeid <> a.nodeid
     AND pgautofailover.is_healthy(p, cfg) THEN
    IF p.reportedstate IN ('wait_primary', 'join_primary') AND p.goalstate = 'primary' THEN
      PERFORM pgautofailover.set_goal(a, 'catchingup', 'N21', format('primary %s is healthy', plabel));
      RETURN true;
    ELSIF p.reportedstate = p.goalstate AND p.goalstate IN ('join_primary', 'wait_primary', 'primary') THEN
      PERFORM pgautofailover.set_goal(a, 'catchingup', 'N22', format('primary %s is healthy', plabel));
      RETURN true;
    END IF;
  END IF;

  IF pgautofailover.is_current_state(a, 'join_secondary') AND p.nodeid IS NOT NULL THEN
    -- N23
    IF p.reportedstate = 'wait_primary' AND p.goalstate IN ('wait_primary', 'primary') THEN
      PERFORM pgautofailover.set_goal(a, 'secondary', 'N23', format('new primary %s is up', plabel));
      SELECT * INTO p FROM pgautofailover.node WHERE nodeid = p.nodeid;
      PERFORM pgautofailover.proceed_primary(p, cfg);
      RETURN true;
    -- N24
    ELSIF pgautofailover.is_current_state(p, 'primary') THEN
      PERFORM pgautofailover.set_goal(a, 'secondary', 'N24', format('new primary %s is up', plabel));
      RETURN true;
    END IF;
  END IF;

  RETURN false;
END
$$;

-- Entry point (§2.2): decide new goal states for the group of node active_id.
-- Returns true when some goal changed.
CREATE FUNCTION pgautofailover.proceed_group_state(active_id bigint) RETURNS bool
LANGUAGE plpgsql AS $$
DECLARE
  cfg pgautofailover.fsm_settings := pgautofailover.fsm_settings();
  a pgautofailover.node;
  p pgautofailover.node;
  node_count int;
  changed bool := false;
BEGIN
  SELECT * INTO a FROM pgautofailover.node WHERE nodeid = active_id;
  IF a.nodeid IS NULL THEN
    RETURN false;
  END IF;

  -- E1
  IF pgautofailover.is_current_state(a, 'dropped') THEN
    PERFORM pgautofailover.notify_event(a, 'E1',
      format('Removing %s from formation "%s": it converged to dropped.', pgautofailover.node_label(a), a.formationid));
    DELETE FROM pgautofailover.node WHERE nodeid = a.nodeid;
    RETURN true;
  END IF;
  -- E2, E3
  IF a.goalstate = 'dropped' OR pgautofailover.is_current_state(a, 'maintenance') THEN
    RETURN false;
  END IF;

  -- a node being dropped still counts until it confirmed: it may still take writes
  SELECT count(*) INTO node_count FROM pgautofailover.node
   WHERE formationid = a.formationid AND groupid = a.groupid;

  IF node_count = 1 THEN
    IF a.candidatepriority > 0 AND a.goalstate <> 'single' THEN
      PERFORM pgautofailover.set_goal(a, 'single', 'E4', 'it is the only node of its group');
      RETURN true;
    ELSIF a.candidatepriority = 0 AND a.goalstate <> 'single'
          AND a.goalstate = a.reportedstate AND pgautofailover.can_take_writes(a.goalstate) THEN
      PERFORM pgautofailover.set_goal(a, 'single', 'H210',
        'it is the only node of its group and already a primary, candidate priority 0 notwithstanding');
      RETURN true;
    ELSIF a.candidatepriority = 0 AND a.goalstate NOT IN ('single', 'report_lsn')
          AND NOT pgautofailover.can_take_writes(a.goalstate) THEN
      PERFORM pgautofailover.set_goal(a, 'report_lsn', 'E5',
        'it is the only node of its group and its candidate priority 0 forbids taking writes');
      RETURN true;
    END IF;
    RETURN false;
  END IF;

  -- E6 (and P3: a reported join_primary is recorded as primary)
  IF pgautofailover.is_in_primary_state(a) OR (a.goalstate = 'join_primary' AND a.reportedstate = 'primary') THEN
    -- A8: the group has a primary again, an operator's data-loss allowance ends
    IF pgautofailover.is_current_state(a, 'primary') OR pgautofailover.is_current_state(a, 'wait_primary') THEN
      PERFORM pgautofailover.end_data_loss_allowance(a);
    END IF;
    RETURN pgautofailover.proceed_primary(a, cfg);
  END IF;

  p := pgautofailover.primary_or_demoted(a.formationid, a.groupid);
  IF p.nodeid IS NULL AND NOT pgautofailover.is_failover_in_progress(a.formationid, a.groupid) THEN
    RAISE EXCEPTION 'formation "%" group % has no primary node and no failover in progress', a.formationid, a.groupid
      USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = format('while processing %s in state %s with goal %s',
                            pgautofailover.node_label(a), a.reportedstate, a.goalstate);
  END IF;

  -- E7, E8, E9
  IF node_count > 2 AND p.nodeid IS NOT NULL AND pgautofailover.is_unhealthy(p, cfg) THEN
    IF pgautofailover.is_in_primary_state(p) AND NOT pgautofailover.is_current_state(p, 'wait_primary')
       AND pgautofailover.count_healthy_candidates(p, cfg) > 0 THEN
      p := pgautofailover.set_goal(p, 'draining', 'E8',
        format('it is unhealthy (health %s, Postgres %s) and %s healthy candidate(s) can replace it',
               pgautofailover.health_name(p.health),
               CASE WHEN coalesce(p.reportedpgisrunning, true) THEN 'running' ELSE 'not running' END,
               pgautofailover.count_healthy_candidates(p, cfg)));
      changed := true;
    ELSIF pgautofailover.is_current_state(p, 'prepare_maintenance') THEN
      p := pgautofailover.set_goal(p, 'maintenance', 'E9', 'it is stopped for maintenance');
      changed := true;
    END IF;
    SELECT * INTO a FROM pgautofailover.node WHERE nodeid = active_id;
    IF pgautofailover.proceed_election(a, p, cfg) THEN
      RETURN true;
    END IF;
  END IF;

  RETURN pgautofailover.proceed_standby(a, p, cfg) OR changed;
END
$$;

-- multi_standby.sql
-- The multi-standby election (spec §2.5): standbys report their LSN, the monitor picks the
-- candidate, which fast-forwards when it lacks WAL; the others follow it.

-- A node on its way to becoming the new primary.
CREATE FUNCTION pgautofailover.is_being_promoted(n pgautofailover.node) RETURNS bool
LANGUAGE sql IMMUTABLE AS $$
  SELECT (n.reportedstate IN ('report_lsn', 'fast_forward') AND n.goalstate IN ('fast_forward', 'prepare_promotion'))
      OR (n.reportedstate = 'prepare_promotion' AND n.goalstate IN ('prepare_promotion', 'stop_replication', 'wait_primary'))
      OR (n.reportedstate = 'stop_replication' AND n.goalstate IN ('stop_replication', 'wait_primary'))
$$;

-- Runs the election for the group of a (the active node), p being the old primary (or NULL).
-- Returns true when the election handled the call (the caller applies no further rule).
CREATE FUNCTION pgautofailover.proceed_election(
  a pgautofailover.node, p pgautofailover.node, cfg pgautofailover.fsm_settings)
RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
  n pgautofailover.node;
  cand pgautofailover.node;
  best pgautofailover.node;
  chosen pgautofailover.node;
  nss int;
  missing int := 0;
  -- healthy standbys asked to report that have not yet: the operator's allowance waits for them
  missing_live int := 0;
  missing_names text[] := '{}';
  candidates int := 0;
  quorum_candidates int := 0;
  changed bool := false;
  reason text;
  guard_lifted bool := false;
  goal pgautofailover.replication_state;
  rule text;
  why text;
BEGIN
  -- 1. a candidate is already on its way
  SELECT * INTO cand FROM pgautofailover.node
   WHERE formationid = a.formationid AND groupid = a.groupid AND pgautofailover.is_being_promoted(node)
   ORDER BY nodeid LIMIT 1;
  -- H363: a fast_forward candidate whose WAL sources are all unhealthy starts over
  IF cand.nodeid IS NOT NULL AND cand.goalstate = 'fast_forward'
     AND EXISTS (SELECT 1 FROM pgautofailover.node src
                  WHERE src.formationid = cand.formationid AND src.groupid = cand.groupid
                    AND src.nodeid <> cand.nodeid AND src.reportedstate = 'report_lsn'
                    AND (src.reportedtli, src.reportedlsn) > (cand.reportedtli, cand.reportedlsn))
     AND NOT EXISTS (SELECT 1 FROM pgautofailover.node src
                      WHERE src.formationid = cand.formationid AND src.groupid = cand.groupid
                        AND src.nodeid <> cand.nodeid AND src.reportedstate = 'report_lsn'
                        AND (src.reportedtli, src.reportedlsn) > (cand.reportedtli, cand.reportedlsn)
                        AND pgautofailover.is_healthy(src, cfg)) THEN
    PERFORM pgautofailover.set_goal(cand, 'report_lsn', 'H363',
      'every node it could fetch the missing WAL from is unhealthy, the election starts over');
    RETURN true;
  END IF;

  IF cand.nodeid IS NOT NULL
     AND (pgautofailover.is_healthy(cand, cfg) OR cand.reportedstate IN ('report_lsn', 'prepare_promotion')) THEN
    IF cand.nodeid = a.nodeid THEN
      RETURN false;  -- the candidate itself goes on with the standby rules
    END IF;
    IF pgautofailover.is_current_state(a, 'report_lsn')
       AND cand.reportedstate IN ('prepare_promotion', 'stop_replication', 'wait_primary') THEN
      PERFORM pgautofailover.set_goal(a, 'join_secondary', 'M1',
        format('%s is being promoted and ready to stream', pgautofailover.node_label(cand)));
      RETURN true;
    END IF;
    RETURN true;
  END IF;

  -- an unhealthy candidate on its way starts over
  IF cand.nodeid IS NOT NULL AND cand.goalstate = 'fast_forward' THEN
    PERFORM pgautofailover.set_goal(cand, 'report_lsn', 'H363',
      'it is unhealthy while fetching missing WAL, the election starts over');
    changed := true;
  END IF;

  SELECT f.number_sync_standbys INTO nss FROM pgautofailover.formation f WHERE f.formationid = a.formationid;

  -- 2. build the candidate list, asking standbys to report their LSN
  FOR n IN SELECT * FROM pgautofailover.node
            WHERE formationid = a.formationid AND groupid = a.groupid ORDER BY nodeid LOOP
    IF p.nodeid IS NOT NULL AND n.nodeid = p.nodeid AND n.goalstate <> 'report_lsn'
       AND NOT (pgautofailover.is_current_state(n, 'draining') OR pgautofailover.is_current_state(n, 'demoted')) THEN
      CONTINUE;  -- the old primary takes part only once it has stopped
    END IF;
    IF pgautofailover.can_take_writes(n.goalstate) OR n.goalstate IN ('dropped', 'maintenance')
       OR n.reportedstate = 'maintenance' AND n.goalstate <> 'catchingup' THEN
      CONTINUE;
    END IF;
    IF pgautofailover.is_unhealthy(n, cfg) AND NOT pgautofailover.is_reporting(n, cfg) THEN
      IF n.replicationquorum AND n.reportedstate <> 'report_lsn' THEN
        missing := missing + 1;
        missing_names := missing_names || n.nodename;
      END IF;
      CONTINUE;
    END IF;
    IF pgautofailover.is_current_state(n, 'report_lsn') THEN
      candidates := candidates + 1;
      IF n.replicationquorum OR nss = 0 THEN
        quorum_candidates := quorum_candidates + 1;
      END IF;
    ELSIF n.goalstate = 'report_lsn' THEN
      missing := missing + 1;
      missing_live := missing_live + 1;
      missing_names := missing_names || n.nodename;
    ELSIF (n.reportedstate IN ('secondary', 'catchingup') AND n.goalstate IN ('secondary', 'catchingup'))
       OR (n.reportedstate = 'maintenance' AND n.goalstate = 'catchingup')
       OR pgautofailover.is_current_state(n, 'draining')
       OR pgautofailover.is_current_state(n, 'demoted')
       OR (n.reportedstate = 'demoted' AND n.goalstate = 'catchingup') THEN
      PERFORM pgautofailover.set_goal(n, 'report_lsn', 'M2',
        format('a failover is in progress in formation "%s" group %s, every standby reports its LSN', n.formationid, n.groupid));
      missing := missing + 1;
      missing_live := missing_live + 1;
      missing_names := missing_names || n.nodename;
      changed := true;
    END IF;
  END LOOP;

  -- 3. wait for more reports, unless guard_data_loss is off or (H379) the operator lifted
  -- the data-loss guard of this group (perform failover --allow-data-loss). The allowance
  -- waives the standbys that are down and silent and the quorum count, never a healthy
  -- standby that was asked to report: its LSN may be the most advanced, and it answers soon.
  IF missing > 0 OR candidates = 0 OR quorum_candidates < nss + 1 THEN
    guard_lifted := cfg.guard_data_loss AND candidates > 0 AND missing_live = 0
                    AND pgautofailover.data_loss_guard_lifted(a.formationid, a.groupid);
    IF (cfg.guard_data_loss AND NOT guard_lifted) OR candidates = 0 THEN
      IF NOT changed THEN
        reason := CASE
          WHEN missing > 0 THEN format('Election in formation "%s" group %s waits for %s node(s) to report their LSN: %s',
                                       a.formationid, a.groupid, missing, array_to_string(missing_names, ', '))
          WHEN candidates = 0 THEN format('Election in formation "%s" group %s waits: no candidate has reported its LSN yet',
                                          a.formationid, a.groupid)
          ELSE format('Election in formation "%s" group %s waits: %s quorum candidate(s) reported, number_sync_standbys %s needs %s',
                      a.formationid, a.groupid, quorum_candidates, nss, nss + 1) END;
        PERFORM pgautofailover.notify_once(a, 'M3', reason || '.');
      END IF;
      RETURN true;
    END IF;
  END IF;

  -- 4. select
  SELECT * INTO best FROM pgautofailover.node
   WHERE formationid = a.formationid AND groupid = a.groupid
     AND reportedstate = 'report_lsn' AND goalstate = 'report_lsn'
   ORDER BY reportedtli DESC, reportedlsn DESC, health DESC, nodeid LIMIT 1;

  IF p.nodeid IS NOT NULL AND p.reportedstate NOT IN ('report_lsn')
     AND p.reportedlsn > best.reportedlsn
     AND p.reportedlsn - best.reportedlsn > cfg.promote_threshold THEN
    PERFORM pgautofailover.notify_once(a, 'M4', format(
      'Election in formation "%s" group %s refused: the most advanced standby %s is at %s, %s bytes behind old primary %s at %s, more than promote_wal_log_threshold %s.',
      a.formationid, a.groupid, pgautofailover.node_label(best), best.reportedlsn,
      p.reportedlsn - best.reportedlsn, pgautofailover.node_label(p), p.reportedlsn, cfg.promote_threshold));
    RETURN true;
  END IF;

  SELECT * INTO chosen FROM pgautofailover.node n2
   WHERE formationid = a.formationid AND groupid = a.groupid
     AND reportedstate = 'report_lsn' AND goalstate = 'report_lsn'
     AND candidatepriority > 0 AND pgautofailover.is_healthy(n2, cfg)
   ORDER BY candidatepriority DESC, reportedtli DESC, reportedlsn DESC, nodeid LIMIT 1;
  IF chosen.nodeid IS NULL THEN
    PERFORM pgautofailover.notify_once(a, 'M3', format(
      'Election in formation "%s" group %s waits: no healthy candidate with a candidate priority above 0.',
      a.formationid, a.groupid));
    RETURN true;
  END IF;

  -- 5. a candidate that lacks WAL needs a healthy source
  IF (chosen.reportedtli, chosen.reportedlsn) < (best.reportedtli, best.reportedlsn)
     AND NOT EXISTS (SELECT 1 FROM pgautofailover.node n3
                      WHERE formationid = a.formationid AND groupid = a.groupid
                        AND reportedstate = 'report_lsn' AND goalstate = 'report_lsn'
                        AND reportedtli = best.reportedtli AND reportedlsn = best.reportedlsn
                        AND pgautofailover.is_healthy(n3, cfg)) THEN
    PERFORM pgautofailover.notify_once(a, 'M4', format(
      'Election in formation "%s" group %s refused: candidate %s lacks WAL up to %s and no node that has it is healthy.',
      a.formationid, a.groupid, pgautofailover.node_label(chosen), best.reportedlsn));
    RETURN true;
  END IF;

  -- priorities changed by perform_failover/perform_promotion go back to normal
  UPDATE pgautofailover.node
     SET candidatepriority = CASE WHEN candidatepriority > 100 THEN candidatepriority - 101
                                  ELSE candidatepriority + 101 END
   WHERE formationid = a.formationid AND groupid = a.groupid
     AND (candidatepriority > 100 OR candidatepriority < 0);

  -- 6. promote (M6, M7; H379 when only the operator's allowance let the election go on)
  IF (chosen.reportedtli, chosen.reportedlsn) = (best.reportedtli, best.reportedlsn) THEN
    goal := 'prepare_promotion';
    rule := 'M6';
    why := format('elected among %s candidate(s): candidate priority %s, the most advanced LSN %s on timeline %s',
                  candidates, chosen.candidatepriority, chosen.reportedlsn, chosen.reportedtli);
  ELSE
    goal := 'fast_forward';
    rule := 'M7';
    why := format('elected among %s candidate(s) with candidate priority %s, it must first fetch WAL from %s up to %s',
                  candidates, chosen.candidatepriority, pgautofailover.node_label(best), best.reportedlsn);
  END IF;
  IF guard_lifted THEN
    rule := 'H379';
    why := why || format('; the data-loss guard was lifted by the operator (perform failover --allow-data-loss) while %s, '
                         'so writes acknowledged only by those standbys may be lost',
                         CASE WHEN missing > 0
                              THEN format('%s quorum standby(s) had not reported their LSN (%s)', missing, array_to_string(missing_names, ', '))
                              ELSE format('only %s quorum candidate(s) reported and number_sync_standbys %s needs %s', quorum_candidates, nss, nss + 1) END);
  END IF;
  PERFORM pgautofailover.set_goal(chosen, goal, rule, why);
  RETURN true;
END
$$;

-- protocol.sql
-- Keeper entry points: validate, lock the group, record the report, run the state machine.

-- Bookkeeping for rule F1 after node n reported (its previous reported state: old_state).
-- A primary converging in primary records its synchronous standby set; leaving the primary
-- states clears it. A node reporting a state in which it cannot be streaming from its old
-- primary (report_lsn, join_secondary: Postgres restarted without an upstream or stopped;
-- stop_replication, wait_primary: promoted) confirms so to every node that lists it.
CREATE FUNCTION pgautofailover.record_sync_fencing(n pgautofailover.node, old_state pgautofailover.replication_state)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  s record;
BEGIN
  IF n.reportedstate = 'primary' AND n.goalstate = 'primary' THEN
    IF n.sync_standby_ids IS NULL OR old_state IS DISTINCT FROM 'primary' THEN
      SELECT * INTO s FROM pgautofailover.sync_standby_set(n.formationid, n.groupid);
      UPDATE pgautofailover.node
         SET sync_standby_ids = CASE WHEN s.quorum > 0 THEN s.ids END,
             sync_quorum = CASE WHEN s.quorum > 0 THEN s.quorum END,
             fence_confirmed_ids = '{}'
       WHERE nodeid = n.nodeid;
    END IF;
  ELSIF n.reportedstate NOT IN ('primary', 'draining', 'demote_timeout', 'prepare_maintenance')
        AND n.sync_standby_ids IS NOT NULL THEN
    UPDATE pgautofailover.node SET sync_standby_ids = NULL, sync_quorum = NULL, fence_confirmed_ids = '{}'
     WHERE nodeid = n.nodeid;
  END IF;
  IF n.reportedstate IN ('report_lsn', 'join_secondary', 'stop_replication', 'wait_primary') THEN
    UPDATE pgautofailover.node o SET fence_confirmed_ids = o.fence_confirmed_ids || n.nodeid
     WHERE o.formationid = n.formationid AND o.groupid = n.groupid AND o.nodeid <> n.nodeid
       AND o.sync_standby_ids @> ARRAY[n.nodeid] AND NOT o.fence_confirmed_ids @> ARRAY[n.nodeid]
       -- only an old primary being failed away from collects confirmations: a node that is
       -- primary again must not count reports that predate its new snapshot
       AND NOT pgautofailover.can_take_writes(o.goalstate);
  END IF;
END
$$;

CREATE FUNCTION pgautofailover.find_node(node_id bigint) RETURNS pgautofailover.node
LANGUAGE plpgsql STABLE AS $$
DECLARE
  n pgautofailover.node;
BEGIN
  SELECT * INTO n FROM pgautofailover.node WHERE nodeid = node_id;
  IF n.nodeid IS NULL THEN
    RAISE EXCEPTION 'node % is not registered', node_id
      USING ERRCODE = 'no_data_found', HINT = 'list the nodes with pgautofailover.current_state()';
  END IF;
  RETURN n;
END
$$;

CREATE FUNCTION pgautofailover.node_active(
  IN formation_id text,
  IN node_id bigint,
  IN group_id int,
  IN current_group_role pgautofailover.replication_state DEFAULT 'init',
  IN current_pg_is_running bool DEFAULT true,
  IN current_tli integer DEFAULT 1,
  IN current_lsn pg_lsn DEFAULT '0/0',
  IN current_rep_state text DEFAULT '',
  OUT assigned_node_id bigint,
  OUT assigned_group_id int,
  OUT assigned_group_state pgautofailover.replication_state,
  OUT assigned_candidate_priority int,
  OUT assigned_replication_quorum bool)
RETURNS record LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
  n pgautofailover.node;
  role pgautofailover.replication_state := current_group_role;
  old_state pgautofailover.replication_state;
BEGIN
  PERFORM pgautofailover.lock_group(formation_id, group_id);
  SELECT * INTO n FROM pgautofailover.node WHERE nodeid = node_id;
  IF n.nodeid IS NULL THEN
    RAISE EXCEPTION 'node % is not registered in formation "%"', node_id, formation_id
      USING ERRCODE = 'no_data_found', HINT = 'the node may have been dropped; register it again';
  END IF;
  IF n.formationid <> formation_id OR n.groupid <> group_id THEN
    RAISE EXCEPTION 'node % belongs to formation "%" group %, not formation "%" group %',
                    node_id, n.formationid, n.groupid, formation_id, group_id
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF current_tli < 1 THEN
    RAISE EXCEPTION 'invalid timeline % reported by node %', current_tli, node_id
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  old_state := n.reportedstate;
  IF role = 'join_primary' THEN
    role := 'primary';  -- deprecated state, primary replaces it
  END IF;

  UPDATE pgautofailover.node
     SET reportedstate = role,
         reportedpgisrunning = current_pg_is_running,
         reportedtli = current_tli,
         walreporttime = CASE WHEN reportedlsn IS DISTINCT FROM current_lsn THEN now() ELSE walreporttime END,
         reportedlsn = current_lsn,
         reportedrepstate = current_rep_state,
         reporttime = now(),
         replication_stall_since =
           CASE WHEN pgautofailover.can_take_writes(role) AND role <> 'single' AND current_rep_state = ''
                THEN coalesce(replication_stall_since, now()) END
   WHERE nodeid = node_id
  RETURNING * INTO n;

  PERFORM pgautofailover.record_sync_fencing(n, old_state);

  IF old_state IS DISTINCT FROM role THEN
    PERFORM pgautofailover.notify_event(n, 'R0',
      format('%s reported new state %s (goal %s).', pgautofailover.node_label(n), role, n.goalstate));
  END IF;

  PERFORM pgautofailover.proceed_group_state(node_id);

  SELECT * INTO n FROM pgautofailover.node WHERE nodeid = node_id;
  IF n.nodeid IS NULL THEN
    assigned_node_id := node_id;
    assigned_group_id := group_id;
    assigned_group_state := 'dropped';
    assigned_candidate_priority := 0;
    assigned_replication_quorum := false;
    RETURN;
  END IF;
  assigned_node_id := n.nodeid;
  assigned_group_id := n.groupid;
  assigned_group_state := n.goalstate;
  assigned_candidate_priority := n.candidatepriority;
  assigned_replication_quorum := n.replicationquorum;
END
$$;

CREATE FUNCTION pgautofailover.register_node(
  IN formation_id text,
  IN node_host text,
  IN node_port int,
  IN dbname name,
  IN node_name text DEFAULT '',
  IN sysidentifier bigint DEFAULT 0,
  IN desired_node_id bigint DEFAULT -1,
  IN desired_group_id int DEFAULT -1,
  IN initial_group_role pgautofailover.replication_state DEFAULT 'init',
  IN node_kind text DEFAULT 'standalone',
  IN candidate_priority int DEFAULT 100,
  IN replication_quorum bool DEFAULT true,
  IN node_cluster text DEFAULT 'default',
  OUT assigned_node_id bigint,
  OUT assigned_group_id int,
  OUT assigned_group_state pgautofailover.replication_state,
  OUT assigned_candidate_priority int,
  OUT assigned_replication_quorum bool,
  OUT assigned_node_name text)
RETURNS record LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
  f pgautofailover.formation;
  grp int := 0;
  new_id bigint;
  state pgautofailover.replication_state;
  group_size int;
  n pgautofailover.node;
  other pgautofailover.node;
  quorum_standbys int;
BEGIN
  -- validate everything before changing anything
  IF btrim(node_host) = '' THEN
    RAISE EXCEPTION 'node_host must not be empty' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(node_host) > 255 THEN
    RAISE EXCEPTION 'node_host is % characters long, at most 255 are allowed', length(node_host)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF node_port NOT BETWEEN 1 AND 65535 THEN
    RAISE EXCEPTION 'node_port % is out of range, expected 1 to 65535', node_port
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(node_name) > 63 THEN
    RAISE EXCEPTION 'node_name is % characters long, at most 63 are allowed', length(node_name)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF node_name ~ '[[:cntrl:]]' THEN
    RAISE EXCEPTION 'node_name must not contain control characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF candidate_priority NOT BETWEEN 0 AND 100 THEN
    RAISE EXCEPTION 'candidate_priority % is out of range, expected 0 to 100', candidate_priority
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF node_kind <> 'standalone' THEN
    RAISE EXCEPTION 'node_kind "%" is not supported, pgaf manages standalone Postgres nodes only', node_kind
      USING ERRCODE = 'feature_not_supported';
  END IF;
  IF desired_group_id NOT IN (-1, 0) THEN
    RAISE EXCEPTION 'group % is not valid for a pgsql formation, which only has group 0', desired_group_id
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF initial_group_role NOT IN ('init', 'single', 'wait_standby', 'report_lsn') THEN
    RAISE EXCEPTION 'a node cannot register in state %', initial_group_role
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  PERFORM pgautofailover.lock_formation_exclusive(formation_id);
  PERFORM pg_advisory_xact_lock(hashtext('pgautofailover.group:' || formation_id), grp);

  SELECT * INTO f FROM pgautofailover.formation WHERE formationid = formation_id;
  IF f.formationid IS NULL THEN
    RAISE EXCEPTION 'formation "%" does not exist', formation_id
      USING ERRCODE = 'undefined_object', HINT = 'create it with pgautofailover.create_formation()';
  END IF;
  IF f.kind <> 'pgsql' THEN
    RAISE EXCEPTION 'formation "%" is of kind %, pgaf manages pgsql formations only', formation_id, f.kind
      USING ERRCODE = 'feature_not_supported';
  END IF;

  SELECT * INTO other FROM pgautofailover.node WHERE nodehost = node_host AND nodeport = node_port;
  IF other.nodeid IS NOT NULL THEN
    RAISE EXCEPTION '%:% is already registered as % in formation "%"', node_host, node_port,
                    pgautofailover.node_label(other), other.formationid
      USING ERRCODE = 'unique_violation';
  END IF;
  IF node_name <> '' AND EXISTS (SELECT 1 FROM pgautofailover.node x
                                  WHERE x.formationid = formation_id AND x.nodename = node_name) THEN
    RAISE EXCEPTION 'a node named "%" is already registered in formation "%"', node_name, formation_id
      USING ERRCODE = 'unique_violation';
  END IF;
  IF desired_node_id > 0 AND EXISTS (SELECT 1 FROM pgautofailover.node x WHERE x.nodeid = desired_node_id) THEN
    RAISE EXCEPTION 'node id % is already taken', desired_node_id USING ERRCODE = 'unique_violation';
  END IF;

  SELECT count(*) INTO group_size FROM pgautofailover.node x
   WHERE x.formationid = formation_id AND x.groupid = grp AND x.goalstate <> 'dropped';
  IF NOT EXISTS (SELECT 1 FROM pgautofailover.node x WHERE x.formationid = formation_id) THEN
    UPDATE pgautofailover.formation SET dbname = register_node.dbname WHERE formationid = formation_id;
  ELSIF f.dbname <> register_node.dbname THEN
    RAISE EXCEPTION 'formation "%" uses database "%", not "%"', formation_id, f.dbname, register_node.dbname
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  -- the first goal state
  IF group_size = 0 THEN
    state := CASE WHEN candidate_priority > 0 THEN 'single' ELSE 'report_lsn' END;
  ELSIF f.opt_secondary AND EXISTS (
          SELECT 1 FROM pgautofailover.node x
           WHERE x.formationid = formation_id AND x.groupid = grp
             AND (pgautofailover.can_take_writes(x.goalstate) OR pgautofailover.is_being_promoted(x)
                  OR x.goalstate IN ('prepare_promotion', 'stop_replication', 'fast_forward'))) THEN
    state := 'wait_standby';
  ELSIF EXISTS (SELECT 1 FROM pgautofailover.node x
                 WHERE x.formationid = formation_id AND x.groupid = grp
                   AND x.candidatepriority = 0 AND x.reportedstate = 'report_lsn') THEN
    state := 'report_lsn';
  ELSIF NOT f.opt_secondary THEN
    RAISE EXCEPTION 'formation "%" does not allow secondary nodes', formation_id
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'use pgautofailover.enable_secondary() first';
  ELSE
    RAISE EXCEPTION 'cannot register %:% in formation "%" group % now: no primary node is ready', node_host, node_port, formation_id, grp
      USING ERRCODE = 'object_in_use', HINT = 'Retry registering in a moment';
  END IF;
  IF initial_group_role <> 'init' AND initial_group_role <> state THEN
    RAISE EXCEPTION 'node %:% asked to register as % but the monitor assigns %', node_host, node_port, initial_group_role, state
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;

  new_id := CASE WHEN desired_node_id > 0 THEN desired_node_id
                 ELSE nextval(pg_get_serial_sequence('pgautofailover.node', 'nodeid')) END;
  INSERT INTO pgautofailover.node
    (formationid, nodeid, groupid, nodename, nodehost, nodeport, sysidentifier, goalstate,
     reportedstate, candidatepriority, replicationquorum, nodecluster)
  VALUES
    (formation_id, new_id, grp, CASE WHEN node_name = '' THEN 'node_' || new_id ELSE node_name END,
     node_host, node_port, nullif(sysidentifier, 0), state, 'init', candidate_priority,
     replication_quorum, node_cluster)
  RETURNING * INTO n;
  IF desired_node_id > 0 THEN
    PERFORM setval(pg_get_serial_sequence('pgautofailover.node', 'nodeid'),
                   greatest(desired_node_id, (SELECT last_value FROM pgautofailover.node_nodeid_seq)));
  END IF;

  PERFORM pgautofailover.notify_event(n, 'A7',
    format('Registering %s to formation "%s" group %s with goal state %s, candidate priority %s, replication quorum %s.',
           pgautofailover.node_label(n), formation_id, grp, state, candidate_priority, replication_quorum));

  -- a second quorum standby turns number_sync_standbys from 0 to 1
  IF state = 'wait_standby' AND replication_quorum AND f.number_sync_standbys = 0 THEN
    SELECT count(*) INTO quorum_standbys FROM pgautofailover.node x
     WHERE x.formationid = formation_id AND x.groupid = grp AND x.replicationquorum
       AND NOT pgautofailover.can_take_writes(x.goalstate) AND x.goalstate <> 'dropped';
    IF quorum_standbys = 2 THEN
      UPDATE pgautofailover.formation SET number_sync_standbys = 1 WHERE formationid = formation_id;
      PERFORM pg_notify('log', format('number_sync_standbys of formation "%s" is now 1: it has 2 quorum standbys', formation_id));
    END IF;
  END IF;

  assigned_node_id := n.nodeid;
  assigned_group_id := n.groupid;
  assigned_group_state := n.goalstate;
  assigned_candidate_priority := n.candidatepriority;
  assigned_replication_quorum := n.replicationquorum;
  assigned_node_name := n.nodename;
END
$$;

-- operator_api.sql
-- Operator APIs (spec §2.6): each validates, takes the group lock, assigns goals, and
-- refuses with a clear error and no change when its preconditions do not hold.

CREATE FUNCTION pgautofailover.refuse(msg text, hint text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%', msg USING ERRCODE = 'object_not_in_prerequisite_state', HINT = coalesce(hint, '');
END
$$;

CREATE FUNCTION pgautofailover.perform_failover(formation_id text DEFAULT 'default', group_id int DEFAULT 0)
RETURNS void LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
  cfg pgautofailover.fsm_settings := pgautofailover.fsm_settings();
  p pgautofailover.node;
  s pgautofailover.node;
  node_count int;
BEGIN
  PERFORM pgautofailover.lock_group(formation_id, group_id);
  IF NOT EXISTS (SELECT 1 FROM pgautofailover.formation WHERE formationid = formation_id) THEN
    RAISE EXCEPTION 'formation "%" does not exist', formation_id USING ERRCODE = 'undefined_object';
  END IF;
  SELECT count(*) INTO node_count FROM pgautofailover.node
   WHERE formationid = formation_id AND groupid = group_id AND goalstate <> 'dropped';
  IF node_count < 2 THEN
    PERFORM pgautofailover.refuse(format(
      'cannot fail over formation "%s" group %s: it has %s node(s), at least 2 are needed', formation_id, group_id, node_count));
  END IF;
  SELECT * INTO p FROM pgautofailover.node
   WHERE formationid = formation_id AND groupid = group_id AND pgautofailover.can_take_writes(goalstate)
   ORDER BY nodeid LIMIT 1;
  IF p.nodeid IS NULL THEN
    PERFORM pgautofailover.refuse(format(
      'cannot fail over formation "%s" group %s: it has no primary node', formation_id, group_id));
  END IF;
  IF NOT (pgautofailover.is_current_state(p, 'primary') OR pgautofailover.is_current_state(p, 'single')
          OR pgautofailover.is_current_state(p, 'join_primary')) THEN
    PERFORM pgautofailover.refuse(format(
      'cannot fail over: primary %s is not in a stable state (reported %s, goal %s)',
      pgautofailover.node_label(p), p.reportedstate, p.goalstate),
      'a failover needs the primary in state primary; wait until the group is stable');
  END IF;

  IF node_count = 2 THEN
    SELECT * INTO s FROM pgautofailover.node
     WHERE formationid = formation_id AND groupid = group_id AND nodeid <> p.nodeid AND goalstate <> 'dropped';
    IF NOT pgautofailover.is_current_state(s, 'secondary') THEN
      PERFORM pgautofailover.refuse(format(
        'cannot fail over: standby %s is not in a stable state (reported %s, goal %s)',
        pgautofailover.node_label(s), s.reportedstate, s.goalstate),
        'a failover needs the standby in state secondary');
    END IF;
    IF s.candidatepriority <= 0 THEN
      PERFORM pgautofailover.refuse(format(
        'cannot fail over: standby %s has candidate priority 0', pgautofailover.node_label(s)));
    END IF;
    PERFORM pgautofailover.set_goal(p, 'draining', 'A1',
      format('a failover was requested and standby %s takes over', pgautofailover.node_label(s)));
    PERFORM pgautofailover.set_goal(s, 'prepare_promotion', 'A1',
      format('a failover was requested from primary %s', pgautofailover.node_label(p)));
    RETURN;
  END IF;

  IF EXISTS (SELECT 1 FROM pgautofailover.node
              WHERE formationid = formation_id AND groupid = group_id AND nodeid <> p.nodeid
                AND reportedstate IS DISTINCT FROM goalstate AND goalstate NOT IN ('maintenance', 'dropped')) THEN
    PERFORM pgautofailover.refuse(format(
      'cannot fail over formation "%s" group %s: a standby is still changing state', formation_id, group_id),
      'wait until every standby has reached its goal state (show state)');
  END IF;
  IF pgautofailover.count_healthy_candidates(p, cfg) = 0 THEN
    PERFORM pgautofailover.refuse(format(
      'cannot fail over formation "%s" group %s: no healthy standby with a candidate priority above 0', formation_id, group_id));
  END IF;

  UPDATE pgautofailover.node SET candidatepriority = candidatepriority - 101 WHERE nodeid = p.nodeid;
  PERFORM pgautofailover.set_goal(p, 'draining', 'A1',
    'a failover was requested; it stops taking writes and its candidate priority is lowered for the election');
  p := pgautofailover.find_node(p.nodeid);
  SELECT * INTO s FROM pgautofailover.node
   WHERE formationid = formation_id AND groupid = group_id AND nodeid <> p.nodeid AND goalstate <> 'dropped'
   ORDER BY nodeid LIMIT 1;
  PERFORM pgautofailover.proceed_election(s, p, cfg);
END
$$;

CREATE FUNCTION pgautofailover.perform_promotion(formation_id text, node_name text)
RETURNS bool LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
  n pgautofailover.node;
  node_count int;
BEGIN
  SELECT * INTO n FROM pgautofailover.node x WHERE x.formationid = formation_id AND x.nodename = node_name;
  IF n.nodeid IS NULL THEN
    RAISE EXCEPTION 'no node named "%" in formation "%"', node_name, formation_id USING ERRCODE = 'no_data_found';
  END IF;
  PERFORM pgautofailover.lock_group(formation_id, n.groupid);
  n := pgautofailover.find_node(n.nodeid);
  IF n.goalstate IN ('single', 'primary') AND n.reportedstate IN ('single', 'primary') THEN
    RAISE NOTICE 'cannot perform promotion: node % in formation % is already a primary', node_name, formation_id;
    RETURN false;
  END IF;
  IF NOT (pgautofailover.is_current_state(n, 'secondary') OR pgautofailover.is_current_state(n, 'report_lsn')) THEN
    PERFORM pgautofailover.refuse(format(
      'cannot promote %s: it is %s with goal %s, it must be secondary', pgautofailover.node_label(n), n.reportedstate, n.goalstate));
  END IF;
  IF n.candidatepriority <= 0 THEN
    PERFORM pgautofailover.refuse(format('cannot promote %s: its candidate priority is 0', pgautofailover.node_label(n)));
  END IF;
  SELECT count(*) INTO node_count FROM pgautofailover.node x
   WHERE x.formationid = formation_id AND x.groupid = n.groupid AND x.goalstate <> 'dropped';
  IF node_count > 2 THEN
    UPDATE pgautofailover.node SET candidatepriority = candidatepriority + 101 WHERE nodeid = n.nodeid;
  END IF;
  PERFORM pgautofailover.notify_event(pgautofailover.find_node(n.nodeid), 'A2', format(
    'Promotion of %s requested%s.', pgautofailover.node_label(n),
    CASE WHEN node_count > 2 THEN ': its candidate priority is raised by 101 for the election' ELSE '' END));
  PERFORM pgautofailover.perform_failover(formation_id, n.groupid);
  RETURN true;
END
$$;

CREATE FUNCTION pgautofailover.start_maintenance(node_id bigint)
RETURNS bool LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
  cfg pgautofailover.fsm_settings := pgautofailover.fsm_settings();
  n pgautofailover.node := pgautofailover.find_node(node_id);
  p pgautofailover.node;
  s pgautofailover.node;
  nss int;
  node_count int;
  healthy_sync int;
BEGIN
  PERFORM pgautofailover.lock_group(n.formationid, n.groupid);
  n := pgautofailover.find_node(node_id);
  SELECT number_sync_standbys INTO nss FROM pgautofailover.formation WHERE formationid = n.formationid;
  SELECT count(*) INTO node_count FROM pgautofailover.node
   WHERE formationid = n.formationid AND groupid = n.groupid AND goalstate <> 'dropped';

  IF pgautofailover.is_current_state(n, 'maintenance') THEN
    RAISE NOTICE '% is already in maintenance', pgautofailover.node_label(n);
    RETURN false;
  END IF;

  IF pgautofailover.is_current_state(n, 'primary') THEN
    IF pgautofailover.count_healthy_candidates(n, cfg) = 0 THEN
      PERFORM pgautofailover.refuse(format(
        'cannot start maintenance on primary %s: no healthy standby can take over', pgautofailover.node_label(n)));
    END IF;
    IF node_count = 2 THEN
      SELECT * INTO s FROM pgautofailover.node
       WHERE formationid = n.formationid AND groupid = n.groupid AND nodeid <> n.nodeid AND goalstate <> 'dropped';
      PERFORM pgautofailover.set_goal(n, 'prepare_maintenance', 'A3', 'maintenance was requested on the primary');
      PERFORM pgautofailover.set_goal(s, 'prepare_promotion', 'A3',
        format('primary %s goes to maintenance', pgautofailover.node_label(n)));
    ELSE
      PERFORM pgautofailover.set_goal(n, 'prepare_maintenance', 'A3', 'maintenance was requested on the primary');
      SELECT * INTO s FROM pgautofailover.node
       WHERE formationid = n.formationid AND groupid = n.groupid AND nodeid <> n.nodeid AND goalstate <> 'dropped'
       ORDER BY nodeid LIMIT 1;
      n := pgautofailover.find_node(node_id);
      PERFORM pgautofailover.proceed_election(s, n, cfg);
    END IF;
    RETURN true;
  END IF;

  IF n.reportedstate NOT IN ('secondary', 'catchingup') THEN
    PERFORM pgautofailover.refuse(format(
      'cannot start maintenance on %s: it is %s with goal %s; only a primary, secondary or catchingup node can',
      pgautofailover.node_label(n), n.reportedstate, n.goalstate));
  END IF;

  p := pgautofailover.primary_or_demoted(n.formationid, n.groupid);
  SELECT count(*) INTO healthy_sync FROM pgautofailover.node x
   WHERE x.formationid = n.formationid AND x.groupid = n.groupid AND x.nodeid <> n.nodeid
     AND x.nodeid <> coalesce(p.nodeid, -1) AND x.replicationquorum
     AND x.reportedstate = 'secondary' AND x.goalstate = 'secondary' AND pgautofailover.is_healthy(x, cfg);
  IF nss > 0 AND healthy_sync < nss THEN
    RAISE WARNING 'with % in maintenance, writes on the primary block until a quorum standby is back (number_sync_standbys %)',
                  pgautofailover.node_label(n), nss;
  END IF;

  IF pgautofailover.is_current_state(p, 'primary') AND nss = 0 AND n.replicationquorum AND healthy_sync = 0 THEN
    PERFORM pgautofailover.set_goal(p, 'wait_primary', 'A3',
      format('its last healthy quorum standby %s goes to maintenance', pgautofailover.node_label(n)));
    PERFORM pgautofailover.set_goal(n, 'wait_maintenance', 'A3', 'maintenance was requested; the primary first turns synchronous replication off');
  ELSE
    PERFORM pgautofailover.set_goal(n, 'maintenance', 'A3', 'maintenance was requested');
    IF pgautofailover.is_in_primary_state(p) AND n.replicationquorum AND p.goalstate <> 'apply_settings'
       AND p.reportedstate <> 'single' THEN
      PERFORM pgautofailover.set_goal(p, 'apply_settings', 'A3',
        format('quorum standby %s goes to maintenance, synchronous_standby_names must change', pgautofailover.node_label(n)));
    END IF;
  END IF;
  RETURN true;
END
$$;

CREATE FUNCTION pgautofailover.stop_maintenance(node_id bigint)
RETURNS bool LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
  n pgautofailover.node := pgautofailover.find_node(node_id);
  p pgautofailover.node;
  node_count int;
BEGIN
  PERFORM pgautofailover.lock_group(n.formationid, n.groupid);
  n := pgautofailover.find_node(node_id);
  SELECT count(*) INTO node_count FROM pgautofailover.node
   WHERE formationid = n.formationid AND groupid = n.groupid AND goalstate <> 'dropped';
  IF NOT (pgautofailover.is_current_state(n, 'maintenance')
          OR (node_count > 2 AND pgautofailover.is_current_state(n, 'prepare_maintenance'))) THEN
    PERFORM pgautofailover.refuse(format(
      'cannot stop maintenance on %s: it is %s with goal %s, not in maintenance',
      pgautofailover.node_label(n), n.reportedstate, n.goalstate));
  END IF;
  IF node_count = 1 THEN
    PERFORM pgautofailover.set_goal(n, CASE WHEN n.candidatepriority > 0 THEN 'single' ELSE 'report_lsn' END,
                                    'A4', 'maintenance is over and it is the only node of its group');
    RETURN true;
  END IF;
  p := pgautofailover.primary_or_demoted(n.formationid, n.groupid);
  IF p.nodeid IS NULL OR p.nodeid = n.nodeid THEN
    IF node_count = 2 THEN
      PERFORM pgautofailover.refuse(format(
        'cannot stop maintenance on %s: its group has no primary node', pgautofailover.node_label(n)));
    END IF;
    PERFORM pgautofailover.set_goal(n, 'report_lsn', 'A4', 'maintenance is over and there is no primary, an election runs');
  ELSIF pgautofailover.is_failover_in_progress(n.formationid, n.groupid) THEN
    PERFORM pgautofailover.set_goal(n, 'report_lsn', 'A4', 'maintenance is over and a failover is in progress');
  ELSE
    PERFORM pgautofailover.set_goal(n, 'catchingup', 'A4',
      format('maintenance is over, it rejoins primary %s', pgautofailover.node_label(p)));
  END IF;
  RETURN true;
END
$$;

-- Shared by both remove_node forms.
CREATE FUNCTION pgautofailover.remove_node_internal(n pgautofailover.node, force bool)
RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
  cfg pgautofailover.fsm_settings := pgautofailover.fsm_settings();
  o pgautofailover.node;
  p pgautofailover.node;
  f pgautofailover.formation;
  quorum_left int;
  was_primary bool;
  deleted bool := false;
BEGIN
  PERFORM pgautofailover.lock_group(n.formationid, n.groupid);
  n := pgautofailover.find_node(n.nodeid);
  IF pgautofailover.is_current_state(n, 'dropped') OR force THEN
    PERFORM pgautofailover.notify_event(n, 'A5', format('Removing %s from formation "%s"%s.',
      pgautofailover.node_label(n), n.formationid, CASE WHEN force THEN ' (forced)' ELSE '' END));
    DELETE FROM pgautofailover.node WHERE nodeid = n.nodeid;
    deleted := true;
  ELSIF n.goalstate = 'dropped' THEN
    RETURN true;
  END IF;

  was_primary := pgautofailover.can_take_writes(n.goalstate);
  IF NOT deleted THEN
    IF was_primary THEN
      FOR o IN SELECT * FROM pgautofailover.node
                WHERE formationid = n.formationid AND groupid = n.groupid AND nodeid <> n.nodeid
                  AND goalstate NOT IN ('maintenance', 'dropped') ORDER BY nodeid LOOP
        PERFORM pgautofailover.set_goal(o, 'report_lsn', 'A5',
          format('primary %s is being removed, an election runs', pgautofailover.node_label(n)));
      END LOOP;
    END IF;
    PERFORM pgautofailover.set_goal(n, 'dropped', 'A5', 'it is being removed from the formation');
  END IF;

  SELECT * INTO f FROM pgautofailover.formation WHERE formationid = n.formationid;
  SELECT count(*) INTO quorum_left FROM pgautofailover.node
   WHERE formationid = n.formationid AND groupid = n.groupid AND nodeid <> n.nodeid
     AND replicationquorum AND goalstate <> 'dropped';
  quorum_left := quorum_left - 1;   -- one of them is (or will be) the primary
  IF quorum_left < f.number_sync_standbys + 1 AND f.number_sync_standbys > 0 THEN
    UPDATE pgautofailover.formation SET number_sync_standbys = greatest(quorum_left - 1, 0)
     WHERE formationid = f.formationid;
    PERFORM pg_notify('log', format('number_sync_standbys of formation "%s" is now %s: too few quorum nodes remain',
                                    f.formationid, greatest(quorum_left - 1, 0)));
  END IF;

  IF was_primary THEN
    SELECT * INTO o FROM pgautofailover.node
     WHERE formationid = n.formationid AND groupid = n.groupid AND nodeid <> n.nodeid AND goalstate <> 'dropped'
     ORDER BY nodeid LIMIT 1;
    IF o.nodeid IS NOT NULL THEN
      PERFORM pgautofailover.proceed_group_state(o.nodeid);
    END IF;
  ELSE
    p := pgautofailover.primary_or_demoted(n.formationid, n.groupid);
    IF p.nodeid IS NOT NULL AND p.nodeid <> n.nodeid THEN
      IF NOT pgautofailover.proceed_group_state(p.nodeid) THEN
        p := pgautofailover.find_node(p.nodeid);
        IF pgautofailover.is_in_primary_state(p) AND p.reportedstate <> 'single' AND p.goalstate <> 'apply_settings'
           AND EXISTS (SELECT 1 FROM pgautofailover.node WHERE formationid = p.formationid AND groupid = p.groupid
                          AND nodeid NOT IN (p.nodeid, n.nodeid) AND goalstate <> 'dropped') THEN
          PERFORM pgautofailover.set_goal(p, 'apply_settings', 'A5',
            format('%s is being removed, synchronous_standby_names must change', pgautofailover.node_label(n)));
        END IF;
      END IF;
    END IF;
  END IF;
  RETURN true;
END
$$;

CREATE FUNCTION pgautofailover.remove_node(node_id bigint, force bool DEFAULT false)
RETURNS bool LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
BEGIN
  RETURN pgautofailover.remove_node_internal(pgautofailover.find_node(node_id), force);
END
$$;

CREATE FUNCTION pgautofailover.remove_node(node_host text, node_port int DEFAULT 5432, force bool DEFAULT false)
RETURNS bool LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
  n pgautofailover.node;
BEGIN
  SELECT * INTO n FROM pgautofailover.node x WHERE x.nodehost = node_host AND x.nodeport = node_port;
  IF n.nodeid IS NULL THEN
    RAISE EXCEPTION 'no node is registered at %:%', node_host, node_port USING ERRCODE = 'no_data_found';
  END IF;
  RETURN pgautofailover.remove_node_internal(n, force);
END
$$;

-- After a settings change: the primary re-reads synchronous_standby_names (apply_settings).
CREATE FUNCTION pgautofailover.apply_settings_on_primary(formation text, grp int, why text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  p pgautofailover.node := pgautofailover.primary_or_demoted(formation, grp);
BEGIN
  IF p.nodeid IS NULL OR p.reportedstate = 'single' OR NOT pgautofailover.can_take_writes(p.goalstate) THEN
    RETURN;
  END IF;
  IF pgautofailover.is_current_state(p, 'apply_settings') THEN
    PERFORM pgautofailover.refuse(format(
      'cannot change settings now: primary %s is still applying the previous change', pgautofailover.node_label(p)),
      'retry in a moment');
  END IF;
  PERFORM pgautofailover.set_goal(p, 'apply_settings', 'A6', why);
END
$$;

CREATE FUNCTION pgautofailover.find_node_by_name(formation_id text, node_name text) RETURNS pgautofailover.node
LANGUAGE plpgsql STABLE AS $$
DECLARE
  n pgautofailover.node;
BEGIN
  SELECT * INTO n FROM pgautofailover.node x WHERE x.formationid = formation_id AND x.nodename = node_name;
  IF n.nodeid IS NULL THEN
    RAISE EXCEPTION 'no node named "%" in formation "%"', node_name, formation_id USING ERRCODE = 'no_data_found';
  END IF;
  RETURN n;
END
$$;

CREATE FUNCTION pgautofailover.set_node_candidate_priority(formation_id text, node_name text, candidate_priority int)
RETURNS bool LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
  n pgautofailover.node := pgautofailover.find_node_by_name(formation_id, node_name);
  candidates int;
BEGIN
  IF candidate_priority NOT BETWEEN 0 AND 100 THEN
    RAISE EXCEPTION 'candidate priority % is out of range, expected 0 to 100', candidate_priority
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pgautofailover.lock_group(formation_id, n.groupid);
  n := pgautofailover.find_node(n.nodeid);
  IF candidate_priority = 0 THEN
    SELECT count(*) INTO candidates FROM pgautofailover.node x
     WHERE x.formationid = formation_id AND x.groupid = n.groupid AND x.nodeid <> n.nodeid
       AND x.candidatepriority > 0 AND x.goalstate <> 'dropped';
    IF candidates < 2 THEN
      RAISE NOTICE 'with candidate priority 0 on node "%", formation "%" has % node(s) that can be promoted',
                   node_name, formation_id, candidates;
    END IF;
  END IF;
  UPDATE pgautofailover.node SET candidatepriority = candidate_priority WHERE nodeid = n.nodeid;
  PERFORM pgautofailover.apply_settings_on_primary(formation_id, n.groupid,
    format('candidate priority of %s changed from %s to %s', pgautofailover.node_label(n), n.candidatepriority, candidate_priority));
  RETURN true;
END
$$;

CREATE FUNCTION pgautofailover.set_node_replication_quorum(formation_id text, node_name text, replication_quorum bool)
RETURNS bool LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
  n pgautofailover.node := pgautofailover.find_node_by_name(formation_id, node_name);
  p pgautofailover.node;
  nss int;
  quorum_standbys int;
BEGIN
  PERFORM pgautofailover.lock_group(formation_id, n.groupid);
  n := pgautofailover.find_node(n.nodeid);
  IF NOT replication_quorum THEN
    SELECT number_sync_standbys INTO nss FROM pgautofailover.formation f WHERE f.formationid = formation_id;
    p := pgautofailover.primary_or_demoted(formation_id, n.groupid);
    SELECT count(*) INTO quorum_standbys FROM pgautofailover.node x
     WHERE x.formationid = formation_id AND x.groupid = n.groupid AND x.replicationquorum
       AND x.nodeid NOT IN (n.nodeid, coalesce(p.nodeid, -1)) AND x.goalstate <> 'dropped';
    IF nss > 0 AND quorum_standbys < nss + 1 THEN
      PERFORM pgautofailover.refuse(format(
        'cannot set replication quorum of node "%s" to false: number_sync_standbys %s needs %s quorum standbys and only %s would remain',
        node_name, nss, nss + 1, quorum_standbys), 'lower number_sync_standbys first');
    END IF;
  END IF;
  UPDATE pgautofailover.node SET replicationquorum = replication_quorum WHERE nodeid = n.nodeid;
  PERFORM pgautofailover.apply_settings_on_primary(formation_id, n.groupid,
    format('replication quorum of %s changed from %s to %s', pgautofailover.node_label(n), n.replicationquorum, replication_quorum));
  RETURN true;
END
$$;

CREATE FUNCTION pgautofailover.set_formation_number_sync_standbys(formation_id text, number_sync_standbys int)
RETURNS bool LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
  f pgautofailover.formation;
  p pgautofailover.node;
  quorum_standbys int;
BEGIN
  IF number_sync_standbys < 0 THEN
    RAISE EXCEPTION 'number_sync_standbys % is invalid, expected 0 or more', number_sync_standbys
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO f FROM pgautofailover.formation x WHERE x.formationid = formation_id;
  IF f.formationid IS NULL THEN
    RAISE EXCEPTION 'formation "%" does not exist', formation_id USING ERRCODE = 'undefined_object';
  END IF;
  PERFORM pgautofailover.lock_group(formation_id, 0);
  p := pgautofailover.primary_or_demoted(formation_id, 0);
  IF p.nodeid IS NULL OR NOT (pgautofailover.is_current_state(p, 'primary') OR pgautofailover.is_current_state(p, 'wait_primary')) THEN
    PERFORM pgautofailover.refuse(format(
      'cannot set number_sync_standbys of formation "%s" now: its primary is not in state primary or wait_primary', formation_id),
      'wait until the group is stable');
  END IF;
  SELECT count(*) INTO quorum_standbys FROM pgautofailover.node x
   WHERE x.formationid = formation_id AND x.groupid = 0 AND x.nodeid <> p.nodeid
     AND x.replicationquorum AND x.goalstate <> 'dropped';
  IF number_sync_standbys > 0 AND number_sync_standbys + 1 > quorum_standbys THEN
    PERFORM pgautofailover.refuse(format(
      'cannot set number_sync_standbys of formation "%s" to %s: it needs %s quorum standbys and has %s',
      formation_id, number_sync_standbys, number_sync_standbys + 1, quorum_standbys));
  END IF;
  UPDATE pgautofailover.formation x SET number_sync_standbys = set_formation_number_sync_standbys.number_sync_standbys
   WHERE x.formationid = formation_id;
  PERFORM pgautofailover.apply_settings_on_primary(formation_id, 0,
    format('number_sync_standbys of formation "%s" changed from %s to %s', formation_id, f.number_sync_standbys, number_sync_standbys));
  RETURN true;
END
$$;

CREATE FUNCTION pgautofailover.set_node_system_identifier(
  IN node_id bigint, IN node_sysidentifier bigint,
  OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int)
RETURNS record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
  UPDATE pgautofailover.node SET sysidentifier = node_sysidentifier
   WHERE nodeid = set_node_system_identifier.node_id
  RETURNING nodeid, nodename, nodehost, nodeport;
$$;

CREATE FUNCTION pgautofailover.set_group_system_identifier(
  IN group_id bigint, IN node_sysidentifier bigint,
  OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
  UPDATE pgautofailover.node SET sysidentifier = node_sysidentifier
   WHERE groupid = group_id AND (sysidentifier IS NULL OR sysidentifier = 0)
  RETURNING nodeid, nodename, nodehost, nodeport;
$$;

CREATE FUNCTION pgautofailover.update_node_metadata(node_id bigint, node_name text, node_host text, node_port int)
RETURNS bool LANGUAGE plpgsql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
  n pgautofailover.node;
BEGIN
  IF node_id IS NULL THEN
    RAISE EXCEPTION 'node_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  n := pgautofailover.find_node(node_id);
  IF node_port IS NOT NULL AND node_port NOT BETWEEN 1 AND 65535 THEN
    RAISE EXCEPTION 'node_port % is out of range, expected 1 to 65535', node_port USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF node_name IS NOT NULL AND (btrim(node_name) = '' OR length(node_name) > 63) THEN
    RAISE EXCEPTION 'node_name must be 1 to 63 characters long' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF node_host IS NOT NULL AND (btrim(node_host) = '' OR length(node_host) > 255) THEN
    RAISE EXCEPTION 'node_host must be 1 to 255 characters long' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pgautofailover.lock_group(n.formationid, n.groupid);
  IF node_name IS NOT NULL AND EXISTS (SELECT 1 FROM pgautofailover.node x
       WHERE x.formationid = n.formationid AND x.nodename = node_name AND x.nodeid <> node_id) THEN
    RAISE EXCEPTION 'a node named "%" is already registered in formation "%"', node_name, n.formationid
      USING ERRCODE = 'unique_violation';
  END IF;
  IF EXISTS (SELECT 1 FROM pgautofailover.node x
              WHERE x.nodehost = coalesce(node_host, n.nodehost) AND x.nodeport = coalesce(node_port, n.nodeport)
                AND x.nodeid <> node_id) THEN
    RAISE EXCEPTION '%:% is already registered to another node', coalesce(node_host, n.nodehost), coalesce(node_port, n.nodeport)
      USING ERRCODE = 'unique_violation';
  END IF;
  UPDATE pgautofailover.node
     SET nodename = coalesce(update_node_metadata.node_name, nodename),
         nodehost = coalesce(update_node_metadata.node_host, nodehost),
         nodeport = coalesce(update_node_metadata.node_port, nodeport)
   WHERE nodeid = node_id;
  RETURN true;
END
$$;

CREATE FUNCTION pgautofailover.insert_formation(
  new_id text, new_kind text, new_dbname name, new_opt_secondary bool, new_nss int)
RETURNS pgautofailover.formation LANGUAGE plpgsql AS $$
DECLARE
  f pgautofailover.formation;
BEGIN
  IF btrim(new_id) = '' OR length(new_id) > 63 THEN
    RAISE EXCEPTION 'formation name must be 1 to 63 characters long' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF new_kind NOT IN ('pgsql') THEN
    RAISE EXCEPTION 'formation kind "%" is not supported, expected pgsql', new_kind USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF new_nss < 0 THEN
    RAISE EXCEPTION 'number_sync_standbys % is invalid, expected 0 or more', new_nss USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pgautofailover.lock_formation_exclusive(new_id);
  IF EXISTS (SELECT 1 FROM pgautofailover.formation x WHERE x.formationid = new_id) THEN
    RAISE EXCEPTION 'formation "%" already exists', new_id USING ERRCODE = 'duplicate_object';
  END IF;
  INSERT INTO pgautofailover.formation (formationid, kind, dbname, opt_secondary, number_sync_standbys)
  VALUES (new_id, new_kind, new_dbname, new_opt_secondary, new_nss)
  RETURNING * INTO f;
  RETURN f;
END
$$;

-- IN and OUT arguments share their names (as in the original), which PL/pgSQL refuses: a
-- SQL wrapper keeps the signature.
CREATE FUNCTION pgautofailover.create_formation(
  IN formation_id text, IN kind text, IN dbname name, IN opt_secondary bool, IN number_sync_standbys int,
  OUT formation_id text, OUT kind text, OUT dbname name, OUT opt_secondary bool, OUT number_sync_standbys int)
RETURNS record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
  SELECT f.formationid, f.kind, f.dbname, f.opt_secondary, f.number_sync_standbys
    FROM pgautofailover.insert_formation($1, $2, $3, $4, $5) f
$$;

CREATE FUNCTION pgautofailover.drop_formation(formation_id text)
RETURNS void LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
BEGIN
  PERFORM pgautofailover.lock_formation_exclusive(formation_id);
  IF NOT EXISTS (SELECT 1 FROM pgautofailover.formation f WHERE f.formationid = formation_id) THEN
    RAISE EXCEPTION 'formation "%" does not exist', formation_id USING ERRCODE = 'undefined_object';
  END IF;
  IF EXISTS (SELECT 1 FROM pgautofailover.node n WHERE n.formationid = formation_id) THEN
    PERFORM pgautofailover.refuse(format('cannot drop formation "%s": it still has nodes', formation_id),
                                  'drop its nodes first');
  END IF;
  DELETE FROM pgautofailover.formation f WHERE f.formationid = formation_id;
END
$$;

CREATE FUNCTION pgautofailover.set_opt_secondary(formation_id text, enabled bool)
RETURNS bool LANGUAGE plpgsql AS $$
BEGIN
  UPDATE pgautofailover.formation f SET opt_secondary = enabled WHERE f.formationid = formation_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'formation "%" does not exist', formation_id USING ERRCODE = 'undefined_object';
  END IF;
  RETURN true;
END
$$;

CREATE FUNCTION pgautofailover.enable_secondary(formation_id text)
RETURNS bool LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
  SELECT pgautofailover.set_opt_secondary($1, true)
$$;

CREATE FUNCTION pgautofailover.disable_secondary(formation_id text)
RETURNS bool LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
  SELECT pgautofailover.set_opt_secondary($1, false)
$$;

-- queries.sql
-- Read-only API: node lists, primary lookup, events, state, URIs and settings.

CREATE FUNCTION pgautofailover.get_nodes(
  IN formation_id text DEFAULT 'default', IN group_id int DEFAULT NULL,
  OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int,
  OUT node_lsn pg_lsn, OUT node_is_primary bool)
RETURNS SETOF record LANGUAGE sql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
  SELECT nodeid, nodename, nodehost, nodeport, reportedlsn, pgautofailover.can_take_writes(reportedstate)
    FROM pgautofailover.node
   WHERE formationid = formation_id AND (group_id IS NULL OR groupid = group_id)
   ORDER BY nodeid
$$;

CREATE FUNCTION pgautofailover.get_primary(
  IN formation_id text DEFAULT 'default', IN group_id int DEFAULT 0,
  OUT primary_node_id bigint, OUT primary_name text, OUT primary_host text, OUT primary_port int)
RETURNS record LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
  p pgautofailover.node := pgautofailover.primary_or_demoted(formation_id, group_id);
BEGIN
  IF p.nodeid IS NULL THEN
    RAISE EXCEPTION 'formation "%" group % has no primary node', formation_id, group_id
      USING ERRCODE = 'no_data_found';
  END IF;
  primary_node_id := p.nodeid;
  primary_name := p.nodename;
  primary_host := p.nodehost;
  primary_port := p.nodeport;
END
$$;

CREATE FUNCTION pgautofailover.get_other_nodes(
  IN nodeid bigint,
  OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int,
  OUT node_lsn pg_lsn, OUT node_is_primary bool)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
  SELECT o.nodeid, o.nodename, o.nodehost, o.nodeport, o.reportedlsn, pgautofailover.can_take_writes(o.reportedstate)
    FROM pgautofailover.node me
    JOIN pgautofailover.node o ON o.formationid = me.formationid AND o.groupid = me.groupid AND o.nodeid <> me.nodeid
   WHERE me.nodeid = get_other_nodes.nodeid
   ORDER BY o.nodeid
$$;

CREATE FUNCTION pgautofailover.get_other_nodes(
  IN nodeid bigint, IN current_state pgautofailover.replication_state,
  OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int,
  OUT node_lsn pg_lsn, OUT node_is_primary bool)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
  SELECT o.nodeid, o.nodename, o.nodehost, o.nodeport, o.reportedlsn, pgautofailover.can_take_writes(o.reportedstate)
    FROM pgautofailover.node me
    JOIN pgautofailover.node o ON o.formationid = me.formationid AND o.groupid = me.groupid AND o.nodeid <> me.nodeid
   WHERE me.nodeid = get_other_nodes.nodeid AND o.reportedstate = current_state
   ORDER BY o.nodeid
$$;

CREATE FUNCTION pgautofailover.get_most_advanced_standby(
  IN formationid text DEFAULT 'default', IN groupid int DEFAULT 0,
  OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int,
  OUT node_lsn pg_lsn, OUT node_is_primary bool)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
  SELECT n.nodeid, n.nodename, n.nodehost, n.nodeport, n.reportedlsn, false
    FROM pgautofailover.node n
   WHERE n.formationid = get_most_advanced_standby.formationid AND n.groupid = get_most_advanced_standby.groupid
     AND n.reportedstate = 'report_lsn'
   ORDER BY n.reportedtli DESC, n.reportedlsn DESC, n.health DESC, n.nodeid
   LIMIT 1
$$;

CREATE FUNCTION pgautofailover.last_events(count int DEFAULT 10)
RETURNS SETOF pgautofailover.event LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
  SELECT * FROM (SELECT * FROM pgautofailover.event ORDER BY eventid DESC LIMIT greatest(count, 0)) e
   ORDER BY eventid
$$;

CREATE FUNCTION pgautofailover.last_events(formation_id text DEFAULT 'default', count int DEFAULT 10)
RETURNS SETOF pgautofailover.event LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
  SELECT * FROM (SELECT * FROM pgautofailover.event WHERE formationid = formation_id
                  ORDER BY eventid DESC LIMIT greatest(count, 0)) e
   ORDER BY eventid
$$;

CREATE FUNCTION pgautofailover.last_events(formation_id text, group_id int, count int DEFAULT 10)
RETURNS SETOF pgautofailover.event LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
  SELECT * FROM (SELECT * FROM pgautofailover.event WHERE formationid = formation_id AND groupid = group_id
                  ORDER BY eventid DESC LIMIT greatest(count, 0)) e
   ORDER BY eventid
$$;

CREATE FUNCTION pgautofailover.current_state(
  IN formation_id text DEFAULT 'default',
  OUT formation_kind text, OUT nodename text, OUT nodehost text, OUT nodeport int, OUT group_id int,
  OUT node_id bigint, OUT current_group_state pgautofailover.replication_state,
  OUT assigned_group_state pgautofailover.replication_state, OUT candidate_priority int,
  OUT replication_quorum bool, OUT reported_tli int, OUT reported_lsn pg_lsn, OUT health int,
  OUT nodecluster text)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
  SELECT f.kind, n.nodename, n.nodehost, n.nodeport, n.groupid, n.nodeid, n.reportedstate, n.goalstate,
         n.candidatepriority, n.replicationquorum, n.reportedtli, n.reportedlsn, n.health, n.nodecluster
    FROM pgautofailover.node n JOIN pgautofailover.formation f USING (formationid)
   WHERE n.formationid = formation_id
   ORDER BY n.groupid, n.nodeid
$$;

CREATE FUNCTION pgautofailover.current_state(
  IN formation_id text, IN group_id int,
  OUT formation_kind text, OUT nodename text, OUT nodehost text, OUT nodeport int, OUT group_id int,
  OUT node_id bigint, OUT current_group_state pgautofailover.replication_state,
  OUT assigned_group_state pgautofailover.replication_state, OUT candidate_priority int,
  OUT replication_quorum bool, OUT reported_tli int, OUT reported_lsn pg_lsn, OUT health int,
  OUT nodecluster text)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
  SELECT f.kind, n.nodename, n.nodehost, n.nodeport, n.groupid, n.nodeid, n.reportedstate, n.goalstate,
         n.candidatepriority, n.replicationquorum, n.reportedtli, n.reportedlsn, n.health, n.nodecluster
    FROM pgautofailover.node n JOIN pgautofailover.formation f USING (formationid)
   WHERE n.formationid = $1 AND n.groupid = $2
   ORDER BY n.nodeid
$$;

-- The synchronous standbys of the group's primary: k and the ids in priority order
-- (k = 0 and no ids when synchronous replication is off).
CREATE FUNCTION pgautofailover.sync_standby_set(
  IN formation_id text, IN group_id int, OUT quorum int, OUT ids bigint[])
RETURNS record LANGUAGE plpgsql STABLE AS $$
DECLARE
  f pgautofailover.formation;
  p pgautofailover.node;
  node_count int;
  standby pgautofailover.node;
BEGIN
  quorum := 0;
  ids := '{}';
  SELECT * INTO f FROM pgautofailover.formation x WHERE x.formationid = formation_id;
  IF f.formationid IS NULL THEN
    RAISE EXCEPTION 'formation "%" does not exist', formation_id USING ERRCODE = 'undefined_object';
  END IF;
  p := pgautofailover.primary_or_demoted(formation_id, group_id);
  IF p.nodeid IS NULL THEN
    RAISE EXCEPTION 'formation "%" group % has no primary node', formation_id, group_id USING ERRCODE = 'no_data_found';
  END IF;
  SELECT count(*) INTO node_count FROM pgautofailover.node x
   WHERE x.formationid = formation_id AND x.groupid = group_id AND x.goalstate <> 'dropped';
  IF node_count = 2 THEN
    SELECT * INTO standby FROM pgautofailover.node x
     WHERE x.formationid = formation_id AND x.groupid = group_id AND x.nodeid <> p.nodeid AND x.goalstate <> 'dropped';
    IF standby.replicationquorum AND standby.goalstate = 'secondary' THEN
      quorum := 1;
      ids := ARRAY[standby.nodeid];
    END IF;
  ELSIF node_count > 2 AND NOT pgautofailover.is_current_state(p, 'wait_primary') THEN
    SELECT coalesce(array_agg(x.nodeid ORDER BY x.candidatepriority DESC, x.nodeid), '{}')
      INTO ids
      FROM pgautofailover.node x
     WHERE x.formationid = formation_id AND x.groupid = group_id AND x.nodeid <> p.nodeid
       AND x.replicationquorum AND x.goalstate NOT IN ('dropped', 'maintenance', 'wait_maintenance');
    IF cardinality(ids) > 0 THEN
      quorum := greatest(f.number_sync_standbys, 1);
    END IF;
  END IF;
END
$$;

-- ANY k (pgautofailover_standby_<id>, …) for the group's primary, or ''.
CREATE FUNCTION pgautofailover.synchronous_standby_names(formation_id text DEFAULT 'default', group_id int DEFAULT 0)
RETURNS text LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
  SELECT CASE WHEN s.quorum = 0 THEN ''
              ELSE format('ANY %s (%s)', s.quorum,
                          (SELECT string_agg('pgautofailover_standby_' || id, ', ' ORDER BY ord)
                             FROM unnest(s.ids) WITH ORDINALITY AS u(id, ord)))
         END
    FROM pgautofailover.sync_standby_set($1, $2) s
$$;

CREATE FUNCTION pgautofailover.formation_uri(
  formation_id text DEFAULT 'default', cluster_name text DEFAULT 'default', sslmode text DEFAULT 'prefer',
  sslrootcert text DEFAULT '', sslcrl text DEFAULT '')
RETURNS text LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
  f pgautofailover.formation;
  hosts text;
BEGIN
  SELECT * INTO f FROM pgautofailover.formation x WHERE x.formationid = formation_id;
  IF f.formationid IS NULL THEN
    RAISE EXCEPTION 'formation "%" does not exist', formation_id USING ERRCODE = 'undefined_object';
  END IF;
  SELECT string_agg(format('%s:%s', CASE WHEN n.nodehost ~ ':' THEN '[' || n.nodehost || ']' ELSE n.nodehost END,
                           n.nodeport), ',' ORDER BY n.nodeid)
    INTO hosts
    FROM pgautofailover.node n
   WHERE n.formationid = formation_id AND n.groupid = 0 AND n.nodecluster = cluster_name;
  IF hosts IS NULL THEN
    RETURN NULL;
  END IF;
  RETURN format('postgres://%s/%s?%ssslmode=%s%s%s',
                hosts, f.dbname,
                CASE WHEN cluster_name = 'default' THEN 'target_session_attrs=read-write&' ELSE '' END, sslmode,
                CASE WHEN sslrootcert <> '' THEN '&sslrootcert=' || sslrootcert ELSE '' END,
                CASE WHEN sslcrl <> '' THEN '&sslcrl=' || sslcrl ELSE '' END);
END
$$;

CREATE FUNCTION pgautofailover.formation_settings(
  IN formation_id text DEFAULT 'default',
  OUT context text, OUT group_id int, OUT node_id bigint, OUT nodename text, OUT setting text, OUT value text)
RETURNS SETOF record LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
DECLARE
  f pgautofailover.formation;
  n pgautofailover.node;
BEGIN
  SELECT * INTO f FROM pgautofailover.formation x WHERE x.formationid = formation_id;
  IF f.formationid IS NULL THEN
    RAISE EXCEPTION 'formation "%" does not exist', formation_id USING ERRCODE = 'undefined_object';
  END IF;
  context := 'formation'; group_id := NULL; node_id := NULL; nodename := f.formationid;
  setting := 'number_sync_standbys'; value := f.number_sync_standbys::text;
  RETURN NEXT;
  FOR n IN SELECT * FROM pgautofailover.node x WHERE x.formationid = formation_id AND pgautofailover.can_take_writes(x.goalstate)
            ORDER BY x.groupid, x.nodeid LOOP
    context := 'primary'; group_id := n.groupid; node_id := n.nodeid; nodename := n.nodename;
    setting := 'synchronous_standby_names';
    value := quote_literal(pgautofailover.synchronous_standby_names(formation_id, n.groupid));
    RETURN NEXT;
  END LOOP;
  FOR n IN SELECT * FROM pgautofailover.node x WHERE x.formationid = formation_id ORDER BY x.groupid, x.nodeid LOOP
    context := 'node'; group_id := n.groupid; node_id := n.nodeid; nodename := n.nodename;
    setting := 'replication quorum'; value := n.replicationquorum::text;
    RETURN NEXT;
  END LOOP;
  FOR n IN SELECT * FROM pgautofailover.node x WHERE x.formationid = formation_id ORDER BY x.groupid, x.nodeid LOOP
    context := 'node'; group_id := n.groupid; node_id := n.nodeid; nodename := n.nodename;
    setting := 'candidate priority'; value := n.candidatepriority::text;
    RETURN NEXT;
  END LOOP;
END
$$;

-- Citus coordinators: pgaf manages pgsql formations only, so this lists nothing for them.
CREATE FUNCTION pgautofailover.get_coordinator(
  IN formation_id text DEFAULT 'default', OUT node_host text, OUT node_port int)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog AS $$
  SELECT n.nodehost, n.nodeport
    FROM pgautofailover.node n JOIN pgautofailover.formation f USING (formationid)
   WHERE n.formationid = $1 AND f.kind = 'citus' AND n.groupid = 0
     AND n.goalstate IN ('single', 'wait_primary', 'primary', 'join_primary', 'apply_settings')
$$;

-- grants.sql
-- Privileges: autoctl_node (keepers, operators) may read the tables and call the API,
-- nothing else; internal helpers stay private to the owner.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgautofailover FROM PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA pgautofailover TO autoctl_node, autoctl;

GRANT EXECUTE ON FUNCTION
  pgautofailover.register_node(text, text, int, name, text, bigint, bigint, int, pgautofailover.replication_state, text, int, bool, text),
  pgautofailover.node_active(text, bigint, int, pgautofailover.replication_state, bool, int, pg_lsn, text),
  pgautofailover.get_nodes(text, int),
  pgautofailover.get_primary(text, int),
  pgautofailover.get_other_nodes(bigint),
  pgautofailover.get_other_nodes(bigint, pgautofailover.replication_state),
  pgautofailover.get_most_advanced_standby(text, int),
  pgautofailover.remove_node(bigint, bool),
  pgautofailover.remove_node(text, int, bool),
  pgautofailover.perform_failover(text, int),
  pgautofailover.allow_data_loss(text, int, int),
  pgautofailover.perform_promotion(text, text),
  pgautofailover.start_maintenance(bigint),
  pgautofailover.stop_maintenance(bigint),
  pgautofailover.set_node_candidate_priority(text, text, int),
  pgautofailover.set_node_replication_quorum(text, text, bool),
  pgautofailover.set_formation_number_sync_standbys(text, int),
  pgautofailover.set_node_system_identifier(bigint, bigint),
  pgautofailover.set_group_system_identifier(bigint, bigint),
  pgautofailover.update_node_metadata(bigint, text, text, int),
  pgautofailover.synchronous_standby_names(text, int),
  pgautofailover.last_events(int),
  pgautofailover.last_events(text, int),
  pgautofailover.last_events(text, int, int),
  pgautofailover.current_state(text),
  pgautofailover.current_state(text, int),
  pgautofailover.formation_uri(text, text, text, text, text),
  pgautofailover.formation_settings(text),
  pgautofailover.create_formation(text, text, name, bool, int),
  pgautofailover.drop_formation(text),
  pgautofailover.enable_secondary(text),
  pgautofailover.disable_secondary(text),
  pgautofailover.monitor_settings(),
  pgautofailover.get_coordinator(text)
TO autoctl_node, autoctl;

-- the health worker runs as autoctl (or the superuser) on the monitor host
GRANT EXECUTE ON FUNCTION
  pgautofailover.report_health(bigint[], int[]),
  pgautofailover.health_check_targets()
TO autoctl;
