-- pgaf 1.1 → 1.2: secure by default (issue #10, monitor half, and #11 item 5).
-- Only the delta from the released 1.1 (monitor-ext/released/pgaf--1.1.sql). A monitor
-- updated with this script must end up with the catalog of a fresh 1.2
-- (test/monitor/extension-upgrade.test.ts compares them, function bodies included).
-- Whoever changes monitor SQL for 1.2 changes monitor-ext/sql/ AND adds the same delta here.
\echo Use "ALTER EXTENSION pgaf UPDATE TO '1.2'" to load this file. \quit

-- ---------------------------------------------------------------- roles (schema.sql)
DO $roles$
BEGIN
  -- the group of the per-node keeper roles (keepers.sql): each may act on its own node only
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pgautofailover_keeper') THEN
    CREATE ROLE pgautofailover_keeper WITH NOLOGIN;
  END IF;
END
$roles$;

GRANT USAGE ON SCHEMA pgautofailover TO autoctl_node, autoctl, pgautofailover_keeper;

-- ---------------------------------------------------------------- validate.sql (new)
-- Validation of every name and host that enters through the SQL API (issue #10.1). Host names
-- reach every peer's pg_hba.conf and primary_conninfo; names reach logs, events and terminals.
-- Each check raises invalid_parameter_value naming the argument, before anything changes.

-- A value as it may appear in an error message: at most 64 characters, control characters
-- escaped (JSON string syntax), so that a hostile value cannot forge a log line.
CREATE FUNCTION pgautofailover.printable(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT to_json(CASE WHEN length(value) > 64 THEN left(value, 64) || '…' ELSE value END)::text
$$;

-- Words that mean something in a pg_hba.conf field (address, database or user column).
CREATE FUNCTION pgautofailover.is_hba_keyword(value text) RETURNS bool
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT lower(value) IN ('all', 'samehost', 'samenet', 'replication', 'sameuser', 'samerole', 'samegroup')
$$;

-- Why `value` is not an IPv4 or IPv6 literal or an RFC 1123 host name (NULL: it is one).
CREATE FUNCTION pgautofailover.hostname_problem(value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  label text;
BEGIN
  IF value = '' THEN
    RETURN 'it is empty';
  ELSIF length(value) > 253 THEN
    RETURN format('it is %s characters long, at most 253 are allowed', length(value));
  ELSIF value ~ '[[:cntrl:]]' THEN
    RETURN 'it contains a control character';
  ELSIF value ~ '\s' THEN
    RETURN 'it contains white space';
  ELSIF value ~ '^[0-9.]+$' THEN
    -- all digits and dots: it must be a dotted-quad IPv4 address
    IF value !~ '^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$' THEN
      RETURN 'it is not a valid IPv4 address';
    END IF;
    RETURN NULL;
  ELSIF value ~ ':' THEN
    -- an IPv6 literal: hex digits, colons and an optional trailing dotted quad, no prefix or zone
    IF value !~ '^[0-9A-Fa-f:.]+$' THEN
      RETURN 'it is not a valid IPv6 address';
    END IF;
    BEGIN
      IF masklen(value::inet) <> 128 OR family(value::inet) <> 6 THEN
        RETURN 'it is not a valid IPv6 address';
      END IF;
    EXCEPTION WHEN invalid_text_representation THEN
      RETURN 'it is not a valid IPv6 address';
    END;
    RETURN NULL;
  ELSIF pgautofailover.is_hba_keyword(value) THEN
    RETURN format('"%s" is a pg_hba.conf keyword', value);
  END IF;
  FOREACH label IN ARRAY string_to_array(value, '.') LOOP
    IF label = '' THEN
      RETURN 'it has an empty label (a leading, trailing or double dot)';
    ELSIF length(label) > 63 THEN
      RETURN format('its label "%s…" is longer than 63 characters', left(label, 16));
    ELSIF label !~ '^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$' THEN
      RETURN 'a host name has labels of letters, digits and inner hyphens only (RFC 1123)';
    END IF;
  END LOOP;
  IF label ~ '^[0-9]+$' THEN
    RETURN 'its last label is all digits, and it is not an IPv4 address';
  END IF;
  RETURN NULL;
END
$$;

-- Raises when `value` (the argument named `arg`) is not an IP literal or an RFC 1123 host name.
CREATE FUNCTION pgautofailover.check_hostname(arg text, value text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  problem text := pgautofailover.hostname_problem(value);
BEGIN
  IF value IS NULL THEN
    RAISE EXCEPTION '% must not be NULL', arg USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF problem IS NOT NULL THEN
    RAISE EXCEPTION '% % is not a valid host: %', arg, pgautofailover.printable(value), problem
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'give an IPv4 or IPv6 address, or a host name of letters, digits, hyphens and dots (RFC 1123)';
  END IF;
END
$$;

-- Why `value` is not a safe name (NULL: it is one): node, formation, cluster and database names.
-- 1 to 63 characters, letters, digits, '_', '-' and '.', starting with a letter, a digit or '_',
-- and not a pg_hba.conf keyword.
CREATE FUNCTION pgautofailover.name_problem(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
           WHEN value = '' THEN 'it is empty'
           WHEN length(value) > 63 THEN format('it is %s characters long, at most 63 are allowed', length(value))
           WHEN value ~ '[[:cntrl:]]' THEN 'it contains a control character'
           WHEN value ~ '\s' THEN 'it contains white space'
           WHEN value !~ '^[A-Za-z0-9_][A-Za-z0-9_.-]*$'
             THEN 'a name has letters, digits, ''_'', ''-'' and ''.'' only, and starts with a letter, a digit or ''_'''
           WHEN pgautofailover.is_hba_keyword(value) THEN format('"%s" is a pg_hba.conf keyword', value)
         END
$$;

-- Raises when `value` (the argument named `arg`) is not a safe name.
CREATE FUNCTION pgautofailover.check_name(arg text, value text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  problem text := pgautofailover.name_problem(value);
BEGIN
  IF value IS NULL THEN
    RAISE EXCEPTION '% must not be NULL', arg USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF problem IS NOT NULL THEN
    RAISE EXCEPTION '% % is not a valid name: %', arg, pgautofailover.printable(value), problem
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'use 1 to 63 letters, digits, ''_'', ''-'' or ''.''';
  END IF;
END
$$;

-- Raises when `value` is not a valid group id (pgsql formations have group 0 only; -1 = any).
CREATE FUNCTION pgautofailover.check_group(arg text, value bigint) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF value IS NOT NULL AND value NOT BETWEEN 0 AND 2147483647 THEN
    RAISE EXCEPTION 'invalid % %: a group id is 0 or more', arg, value USING ERRCODE = 'invalid_parameter_value';
  END IF;
END
$$;

-- ---------------------------------------------------------------- keepers.sql (new)
-- Per-node keeper roles (issue #10.5): a keeper may change its own node only.
--
-- The operator's role (autoctl_node, as in pg_auto_failover, and autoctl) keeps the whole API:
-- registering nodes, failovers, formations, any node's settings. A keeper, once registered,
-- enrolls a login role of its own, pgaf_keeper_<database oid>_<node id>, member of the
-- NOLOGIN group pgautofailover_keeper, by sending the SCRAM verifier of a password it
-- generated (the password never reaches the monitor). Sessions of such a role may call only
-- the keeper's part of the API, and only for their own node (authorize_node); a role whose
-- node is gone may act on no node.

CREATE TABLE pgautofailover.node_credential (
  nodeid      bigint NOT NULL REFERENCES pgautofailover.node (nodeid) ON DELETE CASCADE,
  rolname     name NOT NULL UNIQUE,
  enrolled_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (nodeid)
);

-- The node the session's login role keeps; NULL when the session is not a keeper role (an
-- operator, a superuser), 0 when it is one whose node is gone.
CREATE FUNCTION pgautofailover.session_keeper_node() RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
  r pg_catalog.pg_roles;
  id bigint;
BEGIN
  SELECT * INTO r FROM pg_catalog.pg_roles WHERE rolname = session_user;
  IF r.rolname IS NULL THEN
    RETURN 0;  -- a keeper role dropped with its node while its session went on
  END IF;
  IF r.rolsuper OR NOT pg_catalog.pg_has_role(session_user, 'pgautofailover_keeper', 'MEMBER') THEN
    RETURN NULL;
  END IF;
  SELECT c.nodeid INTO id FROM pgautofailover.node_credential c WHERE c.rolname = session_user;
  RETURN coalesce(id, 0);
END
$$;

-- Raises unless the session may act on node node_id: an operator may act on any node, a
-- keeper role on its own node only.
CREATE FUNCTION pgautofailover.authorize_node(node_id bigint, action text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
  own bigint := pgautofailover.session_keeper_node();
BEGIN
  -- (a node that does not exist cannot be changed: its functions say it is not registered)
  IF own IS NOT NULL AND own IS DISTINCT FROM node_id
     AND EXISTS (SELECT 1 FROM pgautofailover.node n WHERE n.nodeid = node_id) THEN
    RAISE EXCEPTION 'role % is the keeper role of %: it cannot % node %', session_user,
                    CASE WHEN own = 0 THEN 'a node that is gone' ELSE 'node ' || own END, action, node_id
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'a keeper acts on its own node only; operator commands use the operator''s role (autoctl_node)';
  END IF;
END
$$;

-- The keeper of node_id sends the SCRAM-SHA-256 verifier of its new password; returns the role
-- to log in as. The operator's role may enroll any node, a keeper role re-enroll its own.
CREATE FUNCTION pgautofailover.enroll_keeper(node_id bigint, password_verifier text) RETURNS name
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
DECLARE
  n pgautofailover.node;
  r name;
  existing pg_catalog.pg_roles;
BEGIN
  IF node_id IS NULL OR password_verifier IS NULL THEN
    RAISE EXCEPTION 'enroll_keeper needs a node id and a password verifier, not NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  -- (32-byte keys: anything else PostgreSQL would take for a password and hash)
  IF password_verifier !~ '^SCRAM-SHA-256\$[0-9]{4,7}:[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$' THEN
    RAISE EXCEPTION 'password_verifier must be a SCRAM-SHA-256 verifier (SCRAM-SHA-256$<iterations>:<salt>$<stored key>:<server key>)'
      USING ERRCODE = 'invalid_parameter_value', HINT = 'the keeper sends the verifier of its password, never the password';
  END IF;
  PERFORM pgautofailover.authorize_node(node_id, 'enroll a keeper role for');
  n := pgautofailover.find_node(node_id);
  r := format('pgaf_keeper_%s_%s', (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = current_database()), n.nodeid);
  SELECT * INTO existing FROM pg_catalog.pg_roles WHERE rolname = r;
  IF existing.rolname IS NULL THEN
    EXECUTE format('CREATE ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION CONNECTION LIMIT 8 PASSWORD %L IN ROLE pgautofailover_keeper',
                   r, password_verifier);
  ELSIF existing.rolsuper OR NOT pg_catalog.pg_has_role(r, 'pgautofailover_keeper', 'MEMBER') THEN
    RAISE EXCEPTION 'role % exists and is not a pgaf keeper role', r USING ERRCODE = 'duplicate_object';
  ELSE
    EXECUTE format('ALTER ROLE %I WITH LOGIN PASSWORD %L', r, password_verifier);
  END IF;
  INSERT INTO pgautofailover.node_credential AS c (nodeid, rolname) VALUES (n.nodeid, r)
  ON CONFLICT (nodeid) DO UPDATE SET rolname = excluded.rolname, enrolled_at = now();
  PERFORM pg_notify('log', format('%s now logs in as its own keeper role %s', pgautofailover.node_label(n), r));
  RETURN r;
END
$$;

-- A removed node's keeper role goes with it, and so do earlier ones that could not be dropped
-- then (the keeper's own session removed its node: a session cannot drop its own role). A
-- role that cannot be dropped yet stays, and can act on no node.
CREATE FUNCTION pgautofailover.drop_keeper_role() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  r name;
BEGIN
  FOR r IN SELECT k.rolname FROM pg_catalog.pg_roles k
            WHERE (k.rolname = OLD.rolname
                   OR k.rolname LIKE format('pgaf\_keeper\_%s\_%%', (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = current_database())))
              AND pg_catalog.pg_has_role(k.rolname, 'pgautofailover_keeper', 'MEMBER') AND NOT k.rolsuper
              AND NOT EXISTS (SELECT 1 FROM pgautofailover.node_credential c WHERE c.rolname = k.rolname) LOOP
    BEGIN
      EXECUTE format('DROP ROLE %I', r);
    EXCEPTION WHEN dependent_objects_still_exist OR insufficient_privilege OR object_in_use THEN
      NULL;  -- kept for now
    END;
  END LOOP;
  RETURN OLD;
END
$$;

CREATE TRIGGER drop_keeper_role
  AFTER DELETE ON pgautofailover.node_credential
  FOR EACH ROW EXECUTE FUNCTION pgautofailover.drop_keeper_role();

-- ---------------------------------------------------------------- settings.sql: owner-only values
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

-- ---------------------------------------------------------------- functions changed in 1.2
-- (validation of names and hosts, keeper authorization, owner-only settings, and every
-- SECURITY DEFINER function's search_path now ends with pg_temp)

CREATE OR REPLACE FUNCTION pgautofailover.monitor_settings(
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

CREATE OR REPLACE FUNCTION pgautofailover.setting_text(setting text) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT coalesce((SELECT o.value FROM pgautofailover.owner_settings() o WHERE o.name = setting),
                  (SELECT d.default_value FROM pgautofailover.setting_defaults() d WHERE d.name = setting))
$$;

-- settings.sql: the settings cache (issue #12.4); fsm_settings() now reads through it
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
CREATE OR REPLACE FUNCTION pgautofailover.fsm_settings() RETURNS pgautofailover.fsm_settings
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

CREATE OR REPLACE FUNCTION pgautofailover.report_health(node_ids bigint[], healths int[])
RETURNS SETOF bigint LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
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

CREATE OR REPLACE FUNCTION pgautofailover.health_check_targets(
  OUT node_id bigint, OUT node_host text, OUT node_port int, OUT health int)
RETURNS SETOF record LANGUAGE sql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT nodeid, nodehost, nodeport, health FROM pgautofailover.node ORDER BY nodeid
$$;

CREATE OR REPLACE FUNCTION pgautofailover.allow_data_loss(
  formation_id text, group_id int, valid_for_seconds int,
  OUT allowed_until timestamptz, OUT failover_in_progress bool)
RETURNS record LANGUAGE plpgsql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
DECLARE
  n pgautofailover.node;
BEGIN
  IF formation_id IS NULL OR group_id IS NULL OR valid_for_seconds IS NULL THEN
    RAISE EXCEPTION 'allow_data_loss needs a formation, a group and a number of seconds, not NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM pgautofailover.check_name('formation_id', formation_id);
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

CREATE OR REPLACE FUNCTION pgautofailover.node_active(
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
RETURNS record LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
DECLARE
  n pgautofailover.node;
  role pgautofailover.replication_state := current_group_role;
  old_state pgautofailover.replication_state;
BEGIN
  PERFORM pgautofailover.check_name('formation_id', formation_id);
  PERFORM pgautofailover.check_group('group_id', group_id);
  PERFORM pgautofailover.authorize_node(node_id, 'report for');
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

CREATE OR REPLACE FUNCTION pgautofailover.register_node(
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
RETURNS record LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
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
  PERFORM pgautofailover.check_name('formation_id', formation_id);
  PERFORM pgautofailover.check_hostname('node_host', node_host);
  IF node_port NOT BETWEEN 1 AND 65535 THEN
    RAISE EXCEPTION 'node_port % is out of range, expected 1 to 65535', node_port
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pgautofailover.check_name('dbname', dbname);
  IF node_name <> '' THEN
    PERFORM pgautofailover.check_name('node_name', node_name);
  END IF;
  PERFORM pgautofailover.check_name('node_cluster', node_cluster);
  IF desired_node_id < -1 THEN
    RAISE EXCEPTION 'desired_node_id % is invalid: a node id is 1 or more (-1: the next one)', desired_node_id
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF candidate_priority NOT BETWEEN 0 AND 100 THEN
    RAISE EXCEPTION 'candidate_priority % is out of range, expected 0 to 100', candidate_priority
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF node_kind <> 'standalone' THEN
    RAISE EXCEPTION 'node_kind % is not supported, pgaf manages standalone Postgres nodes only', pgautofailover.printable(node_kind)
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

CREATE OR REPLACE FUNCTION pgautofailover.perform_failover(formation_id text DEFAULT 'default', group_id int DEFAULT 0)
RETURNS void LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
DECLARE
  cfg pgautofailover.fsm_settings := pgautofailover.fsm_settings();
  p pgautofailover.node;
  s pgautofailover.node;
  node_count int;
BEGIN
  PERFORM pgautofailover.check_name('formation_id', formation_id);
  PERFORM pgautofailover.check_group('group_id', group_id);
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

CREATE OR REPLACE FUNCTION pgautofailover.perform_promotion(formation_id text, node_name text)
RETURNS bool LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
DECLARE
  n pgautofailover.node;
  node_count int;
BEGIN
  PERFORM pgautofailover.check_name('formation_id', formation_id);
  PERFORM pgautofailover.check_name('node_name', node_name);
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

CREATE OR REPLACE FUNCTION pgautofailover.start_maintenance(node_id bigint)
RETURNS bool LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
DECLARE
  cfg pgautofailover.fsm_settings := pgautofailover.fsm_settings();
  n pgautofailover.node := pgautofailover.find_node(node_id);
  p pgautofailover.node;
  s pgautofailover.node;
  nss int;
  node_count int;
  healthy_sync int;
BEGIN
  PERFORM pgautofailover.authorize_node(node_id, 'start maintenance on');
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

CREATE OR REPLACE FUNCTION pgautofailover.stop_maintenance(node_id bigint)
RETURNS bool LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
DECLARE
  n pgautofailover.node := pgautofailover.find_node(node_id);
  p pgautofailover.node;
  node_count int;
BEGIN
  PERFORM pgautofailover.authorize_node(node_id, 'stop maintenance on');
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

CREATE OR REPLACE FUNCTION pgautofailover.remove_node(node_id bigint, force bool DEFAULT false)
RETURNS bool LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgautofailover.authorize_node(node_id, 'remove');
  RETURN pgautofailover.remove_node_internal(pgautofailover.find_node(node_id), force);
END
$$;

CREATE OR REPLACE FUNCTION pgautofailover.remove_node(node_host text, node_port int DEFAULT 5432, force bool DEFAULT false)
RETURNS bool LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
DECLARE
  n pgautofailover.node;
BEGIN
  PERFORM pgautofailover.check_hostname('node_host', node_host);
  IF node_port NOT BETWEEN 1 AND 65535 THEN
    RAISE EXCEPTION 'node_port % is out of range, expected 1 to 65535', node_port USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO n FROM pgautofailover.node x WHERE x.nodehost = node_host AND x.nodeport = node_port;
  IF n.nodeid IS NULL THEN
    RAISE EXCEPTION 'no node is registered at %:%', node_host, node_port USING ERRCODE = 'no_data_found';
  END IF;
  PERFORM pgautofailover.authorize_node(n.nodeid, 'remove');
  RETURN pgautofailover.remove_node_internal(n, force);
END
$$;

-- After a settings change: the primary re-reads synchronous_standby_names (apply_settings).
CREATE OR REPLACE FUNCTION pgautofailover.apply_settings_on_primary(formation text, grp int, why text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  p pgautofailover.node := pgautofailover.primary_or_demoted(formation, grp);
BEGIN
  -- a primary still on its way (init, prepare_promotion, stop_replication, demote_timeout)
  -- keeps its goal: it reads synchronous_standby_names when it next turns sync rep on
  IF p.nodeid IS NULL OR p.reportedstate = 'single' OR NOT pgautofailover.can_take_writes(p.goalstate)
     OR NOT pgautofailover.can_take_writes(p.reportedstate) THEN
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

CREATE OR REPLACE FUNCTION pgautofailover.find_node_by_name(formation_id text, node_name text) RETURNS pgautofailover.node
LANGUAGE plpgsql STABLE AS $$
DECLARE
  n pgautofailover.node;
BEGIN
  PERFORM pgautofailover.check_name('formation_id', formation_id);
  PERFORM pgautofailover.check_name('node_name', node_name);
  SELECT * INTO n FROM pgautofailover.node x WHERE x.formationid = formation_id AND x.nodename = node_name;
  IF n.nodeid IS NULL THEN
    RAISE EXCEPTION 'no node named "%" in formation "%"', node_name, formation_id USING ERRCODE = 'no_data_found';
  END IF;
  RETURN n;
END
$$;

CREATE OR REPLACE FUNCTION pgautofailover.set_node_candidate_priority(formation_id text, node_name text, candidate_priority int)
RETURNS bool LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
DECLARE
  n pgautofailover.node := pgautofailover.find_node_by_name(formation_id, node_name);
  candidates int;
BEGIN
  IF candidate_priority NOT BETWEEN 0 AND 100 THEN
    RAISE EXCEPTION 'candidate priority % is out of range, expected 0 to 100', candidate_priority
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pgautofailover.authorize_node(n.nodeid, 'set the candidate priority of');
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

CREATE OR REPLACE FUNCTION pgautofailover.set_node_replication_quorum(formation_id text, node_name text, replication_quorum bool)
RETURNS bool LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
DECLARE
  n pgautofailover.node := pgautofailover.find_node_by_name(formation_id, node_name);
  p pgautofailover.node;
  nss int;
  quorum_standbys int;
BEGIN
  PERFORM pgautofailover.authorize_node(n.nodeid, 'set the replication quorum of');
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

CREATE OR REPLACE FUNCTION pgautofailover.set_formation_number_sync_standbys(formation_id text, number_sync_standbys int)
RETURNS bool LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
DECLARE
  f pgautofailover.formation;
  p pgautofailover.node;
  quorum_standbys int;
BEGIN
  PERFORM pgautofailover.check_name('formation_id', formation_id);
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
  IF number_sync_standbys > 0 AND number_sync_standbys::bigint + 1 > quorum_standbys THEN
    PERFORM pgautofailover.refuse(format(
      'cannot set number_sync_standbys of formation "%s" to %s: it needs %s quorum standbys and has %s',
      formation_id, number_sync_standbys, number_sync_standbys::bigint + 1, quorum_standbys));
  END IF;
  UPDATE pgautofailover.formation x SET number_sync_standbys = set_formation_number_sync_standbys.number_sync_standbys
   WHERE x.formationid = formation_id;
  PERFORM pgautofailover.apply_settings_on_primary(formation_id, 0,
    format('number_sync_standbys of formation "%s" changed from %s to %s', formation_id, f.number_sync_standbys, number_sync_standbys));
  RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION pgautofailover.set_node_system_identifier(
  IN node_id bigint, IN node_sysidentifier bigint,
  OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int)
RETURNS record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT pgautofailover.authorize_node($1, 'set the system identifier of');
  UPDATE pgautofailover.node SET sysidentifier = node_sysidentifier
   WHERE nodeid = set_node_system_identifier.node_id
  RETURNING nodeid, nodename, nodehost, nodeport;
$$;

CREATE OR REPLACE FUNCTION pgautofailover.set_group_system_identifier(
  IN group_id bigint, IN node_sysidentifier bigint,
  OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  UPDATE pgautofailover.node SET sysidentifier = node_sysidentifier
   WHERE groupid = group_id AND (sysidentifier IS NULL OR sysidentifier = 0)
  RETURNING nodeid, nodename, nodehost, nodeport;
$$;

CREATE OR REPLACE FUNCTION pgautofailover.update_node_metadata(node_id bigint, node_name text, node_host text, node_port int)
RETURNS bool LANGUAGE plpgsql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
DECLARE
  n pgautofailover.node;
BEGIN
  IF node_id IS NULL THEN
    RAISE EXCEPTION 'node_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF node_port IS NOT NULL AND node_port NOT BETWEEN 1 AND 65535 THEN
    RAISE EXCEPTION 'node_port % is out of range, expected 1 to 65535', node_port USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF node_name IS NOT NULL THEN
    PERFORM pgautofailover.check_name('node_name', node_name);
  END IF;
  IF node_host IS NOT NULL THEN
    PERFORM pgautofailover.check_hostname('node_host', node_host);
  END IF;
  PERFORM pgautofailover.authorize_node(node_id, 'update the metadata of');
  n := pgautofailover.find_node(node_id);
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

CREATE OR REPLACE FUNCTION pgautofailover.insert_formation(
  new_id text, new_kind text, new_dbname name, new_opt_secondary bool, new_nss int)
RETURNS pgautofailover.formation LANGUAGE plpgsql AS $$
DECLARE
  f pgautofailover.formation;
BEGIN
  PERFORM pgautofailover.check_name('formation_id', new_id);
  PERFORM pgautofailover.check_name('dbname', new_dbname);
  IF new_kind NOT IN ('pgsql') THEN
    RAISE EXCEPTION 'formation kind % is not supported, expected pgsql', pgautofailover.printable(new_kind) USING ERRCODE = 'invalid_parameter_value';
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

CREATE OR REPLACE FUNCTION pgautofailover.create_formation(
  IN formation_id text, IN kind text, IN dbname name, IN opt_secondary bool, IN number_sync_standbys int,
  OUT formation_id text, OUT kind text, OUT dbname name, OUT opt_secondary bool, OUT number_sync_standbys int)
RETURNS record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT f.formationid, f.kind, f.dbname, f.opt_secondary, f.number_sync_standbys
    FROM pgautofailover.insert_formation($1, $2, $3, $4, $5) f
$$;

CREATE OR REPLACE FUNCTION pgautofailover.drop_formation(formation_id text)
RETURNS void LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgautofailover.check_name('formation_id', formation_id);
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

CREATE OR REPLACE FUNCTION pgautofailover.set_opt_secondary(formation_id text, enabled bool)
RETURNS bool LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pgautofailover.check_name('formation_id', formation_id);
  UPDATE pgautofailover.formation f SET opt_secondary = enabled WHERE f.formationid = formation_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'formation "%" does not exist', formation_id USING ERRCODE = 'undefined_object';
  END IF;
  RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION pgautofailover.enable_secondary(formation_id text)
RETURNS bool LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT pgautofailover.set_opt_secondary($1, true)
$$;

CREATE OR REPLACE FUNCTION pgautofailover.disable_secondary(formation_id text)
RETURNS bool LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT pgautofailover.set_opt_secondary($1, false)
$$;

CREATE OR REPLACE FUNCTION pgautofailover.get_nodes(
  IN formation_id text DEFAULT 'default', IN group_id int DEFAULT NULL,
  OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int,
  OUT node_lsn pg_lsn, OUT node_is_primary bool)
RETURNS SETOF record LANGUAGE sql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT nodeid, nodename, nodehost, nodeport, reportedlsn, pgautofailover.can_take_writes(reportedstate)
    FROM pgautofailover.node
   WHERE formationid = formation_id AND (group_id IS NULL OR groupid = group_id)
   ORDER BY nodeid
$$;

CREATE OR REPLACE FUNCTION pgautofailover.get_primary(
  IN formation_id text DEFAULT 'default', IN group_id int DEFAULT 0,
  OUT primary_node_id bigint, OUT primary_name text, OUT primary_host text, OUT primary_port int)
RETURNS record LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
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

CREATE OR REPLACE FUNCTION pgautofailover.get_other_nodes(
  IN nodeid bigint,
  OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int,
  OUT node_lsn pg_lsn, OUT node_is_primary bool)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT o.nodeid, o.nodename, o.nodehost, o.nodeport, o.reportedlsn, pgautofailover.can_take_writes(o.reportedstate)
    FROM pgautofailover.node me
    JOIN pgautofailover.node o ON o.formationid = me.formationid AND o.groupid = me.groupid AND o.nodeid <> me.nodeid
   WHERE me.nodeid = get_other_nodes.nodeid
   ORDER BY o.nodeid
$$;

CREATE OR REPLACE FUNCTION pgautofailover.get_other_nodes(
  IN nodeid bigint, IN current_state pgautofailover.replication_state,
  OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int,
  OUT node_lsn pg_lsn, OUT node_is_primary bool)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT o.nodeid, o.nodename, o.nodehost, o.nodeport, o.reportedlsn, pgautofailover.can_take_writes(o.reportedstate)
    FROM pgautofailover.node me
    JOIN pgautofailover.node o ON o.formationid = me.formationid AND o.groupid = me.groupid AND o.nodeid <> me.nodeid
   WHERE me.nodeid = get_other_nodes.nodeid AND o.reportedstate = current_state
   ORDER BY o.nodeid
$$;

CREATE OR REPLACE FUNCTION pgautofailover.get_most_advanced_standby(
  IN formationid text DEFAULT 'default', IN groupid int DEFAULT 0,
  OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int,
  OUT node_lsn pg_lsn, OUT node_is_primary bool)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT n.nodeid, n.nodename, n.nodehost, n.nodeport, n.reportedlsn, false
    FROM pgautofailover.node n
   WHERE n.formationid = get_most_advanced_standby.formationid AND n.groupid = get_most_advanced_standby.groupid
     AND n.reportedstate = 'report_lsn'
   ORDER BY n.reportedtli DESC, n.reportedlsn DESC, n.health DESC, n.nodeid
   LIMIT 1
$$;

CREATE OR REPLACE FUNCTION pgautofailover.last_events(count int DEFAULT 10)
RETURNS SETOF pgautofailover.event LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT * FROM (SELECT * FROM pgautofailover.event ORDER BY eventid DESC LIMIT greatest(count, 0)) e
   ORDER BY eventid
$$;

CREATE OR REPLACE FUNCTION pgautofailover.last_events(formation_id text DEFAULT 'default', count int DEFAULT 10)
RETURNS SETOF pgautofailover.event LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT * FROM (SELECT * FROM pgautofailover.event WHERE formationid = formation_id
                  ORDER BY eventid DESC LIMIT greatest(count, 0)) e
   ORDER BY eventid
$$;

CREATE OR REPLACE FUNCTION pgautofailover.last_events(formation_id text, group_id int, count int DEFAULT 10)
RETURNS SETOF pgautofailover.event LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT * FROM (SELECT * FROM pgautofailover.event WHERE formationid = formation_id AND groupid = group_id
                  ORDER BY eventid DESC LIMIT greatest(count, 0)) e
   ORDER BY eventid
$$;

CREATE OR REPLACE FUNCTION pgautofailover.current_state(
  IN formation_id text DEFAULT 'default',
  OUT formation_kind text, OUT nodename text, OUT nodehost text, OUT nodeport int, OUT group_id int,
  OUT node_id bigint, OUT current_group_state pgautofailover.replication_state,
  OUT assigned_group_state pgautofailover.replication_state, OUT candidate_priority int,
  OUT replication_quorum bool, OUT reported_tli int, OUT reported_lsn pg_lsn, OUT health int,
  OUT nodecluster text)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT f.kind, n.nodename, n.nodehost, n.nodeport, n.groupid, n.nodeid, n.reportedstate, n.goalstate,
         n.candidatepriority, n.replicationquorum, n.reportedtli, n.reportedlsn, n.health, n.nodecluster
    FROM pgautofailover.node n JOIN pgautofailover.formation f USING (formationid)
   WHERE n.formationid = formation_id
   ORDER BY n.groupid, n.nodeid
$$;

CREATE OR REPLACE FUNCTION pgautofailover.current_state(
  IN formation_id text, IN group_id int,
  OUT formation_kind text, OUT nodename text, OUT nodehost text, OUT nodeport int, OUT group_id int,
  OUT node_id bigint, OUT current_group_state pgautofailover.replication_state,
  OUT assigned_group_state pgautofailover.replication_state, OUT candidate_priority int,
  OUT replication_quorum bool, OUT reported_tli int, OUT reported_lsn pg_lsn, OUT health int,
  OUT nodecluster text)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT f.kind, n.nodename, n.nodehost, n.nodeport, n.groupid, n.nodeid, n.reportedstate, n.goalstate,
         n.candidatepriority, n.replicationquorum, n.reportedtli, n.reportedlsn, n.health, n.nodecluster
    FROM pgautofailover.node n JOIN pgautofailover.formation f USING (formationid)
   WHERE n.formationid = $1 AND n.groupid = $2
   ORDER BY n.nodeid
$$;

CREATE OR REPLACE FUNCTION pgautofailover.synchronous_standby_names(formation_id text DEFAULT 'default', group_id int DEFAULT 0)
RETURNS text LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT CASE WHEN s.quorum = 0 THEN ''
              ELSE format('ANY %s (%s)', s.quorum,
                          (SELECT string_agg('pgautofailover_standby_' || id, ', ' ORDER BY ord)
                             FROM unnest(s.ids) WITH ORDINALITY AS u(id, ord)))
         END
    FROM pgautofailover.sync_standby_set($1, $2) s
$$;

-- (new in 1.2) The goal of node node_id and the synchronous_standby_names of its group, read in one call, so
-- that a primary's keeper applies the names only while its goal is still primary (the keeper's
-- read: the layout of pgautofailover.node is not part of its contract). No row for a node that
-- is not registered.
CREATE FUNCTION pgautofailover.get_goal_and_standby_names(
  IN node_id bigint, OUT goal_state pgautofailover.replication_state, OUT standby_names text)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT n.goalstate, pgautofailover.synchronous_standby_names(n.formationid, n.groupid)
    FROM pgautofailover.node n
   WHERE n.nodeid = get_goal_and_standby_names.node_id
$$;

CREATE OR REPLACE FUNCTION pgautofailover.formation_uri(
  formation_id text DEFAULT 'default', cluster_name text DEFAULT 'default', sslmode text DEFAULT 'prefer',
  sslrootcert text DEFAULT '', sslcrl text DEFAULT '')
RETURNS text LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
DECLARE
  f pgautofailover.formation;
  hosts text;
BEGIN
  PERFORM pgautofailover.check_name('formation_id', formation_id);
  PERFORM pgautofailover.check_name('cluster_name', cluster_name);
  IF sslmode NOT IN ('disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full') THEN
    RAISE EXCEPTION 'sslmode % is not valid, expected disable, allow, prefer, require, verify-ca or verify-full',
                    pgautofailover.printable(sslmode) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF sslrootcert ~ '[[:cntrl:][:space:]&#?''"]' OR sslcrl ~ '[[:cntrl:][:space:]&#?''"]' THEN
    RAISE EXCEPTION 'sslrootcert and sslcrl must be file paths without white space, control characters, quotes, ''&'', ''#'' or ''?'''
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
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

CREATE OR REPLACE FUNCTION pgautofailover.formation_settings(
  IN formation_id text DEFAULT 'default',
  OUT context text, OUT group_id int, OUT node_id bigint, OUT nodename text, OUT setting text, OUT value text)
RETURNS SETOF record LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
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

CREATE OR REPLACE FUNCTION pgautofailover.get_coordinator(
  IN formation_id text DEFAULT 'default', OUT node_host text, OUT node_port int)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT n.nodehost, n.nodeport
    FROM pgautofailover.node n JOIN pgautofailover.formation f USING (formationid)
   WHERE n.formationid = $1 AND f.kind = 'citus' AND n.groupid = 0
     AND n.goalstate IN ('single', 'wait_primary', 'primary', 'join_primary', 'apply_settings')
$$;


-- ---------------------------------------------------------------- settings.sql: the settings view
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

-- ---------------------------------------------------------------- standby_fsm.sql (new): proceed_standby split by reported state (#15.3)
-- Standby rules (spec §2.3): what the monitor decides for a node that is not in a primary
-- state, one function per state the node reports. Each function takes the node a, the
-- group's primary or demoted primary p (NULL when there is none) and the settings, and
-- returns true when a goal changed. Rule ids: monitor-ext/RULES.md.
--
-- Except where a comment says otherwise, a rule fires only when a has converged to the state
-- its function is named after (reported = goal): the rules of different functions never
-- compete, and proceed_standby picks the one function that can apply. Inside a function the
-- rules are tried in order and the first that fires ends the turn.

-- 'primary <label>' in sentences: the node's label, or 'none' when the group has no primary.
CREATE FUNCTION pgautofailover.primary_label(p pgautofailover.node) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p.nodeid IS NULL THEN 'none' ELSE pgautofailover.node_label(p) END
$$;

-- report_lsn: N1, N2. A standby asked for its LSN whose (other) primary is back, healthy and
-- writable returns to secondary; otherwise the election goes on (proceed_standby, N4).
CREATE FUNCTION pgautofailover.proceed_from_report_lsn(
  a pgautofailover.node, p pgautofailover.node, cfg pgautofailover.fsm_settings)
RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
  plabel text := pgautofailover.primary_label(p);
BEGIN
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
  RETURN false;
END
$$;

-- fast_forward: N3. The candidate fetched the WAL it lacked.
CREATE FUNCTION pgautofailover.proceed_from_fast_forward(a pgautofailover.node)
RETURNS bool LANGUAGE plpgsql AS $$
BEGIN
  IF pgautofailover.is_current_state(a, 'fast_forward') THEN
    PERFORM pgautofailover.set_goal(a, 'prepare_promotion', 'N3',
      format('it fetched the missing WAL up to %s', a.reportedlsn));
    RETURN true;
  END IF;
  RETURN false;
END
$$;

-- wait_standby: N5, N6, N7. A new standby may start once its primary is ready; a quorum
-- standby joining a converged primary also sends it to apply_settings (N6).
CREATE FUNCTION pgautofailover.proceed_from_wait_standby(
  a pgautofailover.node, p pgautofailover.node)
RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
  plabel text := pgautofailover.primary_label(p);
BEGIN
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
  RETURN false;
END
$$;

-- catchingup: N8. Secondary once on the primary's timeline and within
-- enable_sync_wal_log_threshold of it, while the primary's replication is not stalled.
CREATE FUNCTION pgautofailover.proceed_from_catchingup(
  a pgautofailover.node, p pgautofailover.node, cfg pgautofailover.fsm_settings)
RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
  plabel text := pgautofailover.primary_label(p);
BEGIN
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
  RETURN false;
END
$$;

-- secondary: H301, then N9 / H323.
-- Order matters: is_healthy and is_unhealthy can both hold for a primary (health 0 checked
-- before its last report, then silence past unhealthy_timeout), and then a secondary on
-- another timeline goes back to catchingup (H301) rather than being promoted (N9).
CREATE FUNCTION pgautofailover.proceed_from_secondary(
  a pgautofailover.node, p pgautofailover.node, cfg pgautofailover.fsm_settings)
RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
  plabel text := pgautofailover.primary_label(p);
BEGIN
  -- H301
  IF pgautofailover.is_current_state(a, 'secondary') AND pgautofailover.is_in_primary_state(p)
     AND pgautofailover.is_healthy(p, cfg) AND a.reportedtli <> p.reportedtli THEN
    PERFORM pgautofailover.set_goal(a, 'catchingup', 'H301',
      format('it reports timeline %s but primary %s is on timeline %s', a.reportedtli, plabel, p.reportedtli));
    RETURN true;
  END IF;

  -- N9, H323: 2-node failover (with more nodes E8 and the election ran before, in
  -- proceed_group_state). A primary that had converged wait_primary is not sent to draining.
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
  RETURN false;
END
$$;

-- wait_maintenance: N10, N11. Order: N10 first (a primary converged wait_primary); N11 for a
-- primary whose goal is not wait_primary, or none. A primary still on its way to wait_primary
-- is waited for.
CREATE FUNCTION pgautofailover.proceed_from_wait_maintenance(
  a pgautofailover.node, p pgautofailover.node)
RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
  plabel text := pgautofailover.primary_label(p);
BEGIN
  IF pgautofailover.is_current_state(a, 'wait_maintenance') THEN
    IF pgautofailover.is_current_state(p, 'wait_primary') THEN
      PERFORM pgautofailover.set_goal(a, 'maintenance', 'N10', format('primary %s runs without synchronous replication now', plabel));
      RETURN true;
    ELSIF p.nodeid IS NULL OR p.goalstate <> 'wait_primary' THEN
      PERFORM pgautofailover.set_goal(a, 'maintenance', 'N11', format('primary %s does not need to wait for it', plabel));
      RETURN true;
    END IF;
  END IF;
  RETURN false;
END
$$;

-- prepare_promotion: N12, then the wait for a draining old primary, N15, N16.
-- Order matters: N12 (the old primary stops for maintenance) before the rest; a live old
-- primary still draining within primary_demote_timeout is waited for (its last WAL is worth
-- it: no rewind later) before N15 sends it to demote_timeout; N16 only when no primary is left.
-- (proceed_standby has already held back a candidate whose old primary is being dropped.)
CREATE FUNCTION pgautofailover.proceed_from_prepare_promotion(
  a pgautofailover.node, p pgautofailover.node, cfg pgautofailover.fsm_settings)
RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
  plabel text := pgautofailover.primary_label(p);
BEGIN
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
  RETURN false;
END
$$;

-- stop_replication: N17, N18, F1, N18 (drain time), N18 (no old primary).
-- Order matters: the old primary's own confirmation (prepare_maintenance: N17, demote_timeout:
-- N18) wins over F1 (fenced by synchronous replication, no wait), which wins over the
-- primary_demote_timeout expiry; a missing old primary is the last case.
CREATE FUNCTION pgautofailover.proceed_from_stop_replication(
  a pgautofailover.node, p pgautofailover.node, cfg pgautofailover.fsm_settings)
RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
  plabel text := pgautofailover.primary_label(p);
BEGIN
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
  RETURN false;
END
$$;

-- demote_timeout: H207. Unlike the others this rule looks at the reported state only: a node
-- that reported demote_timeout with a goal it cannot reach from there is sent to demoted.
CREATE FUNCTION pgautofailover.proceed_from_demote_timeout(a pgautofailover.node)
RETURNS bool LANGUAGE plpgsql AS $$
BEGIN
  IF a.reportedstate = 'demote_timeout'
     AND a.goalstate NOT IN ('demote_timeout', 'demoted', 'primary', 'single', 'report_lsn', 'dropped', 'maintenance') THEN
    PERFORM pgautofailover.set_goal(a, 'demoted', 'H207',
      format('it reported demote_timeout and cannot reach %s from there', a.goalstate));
    RETURN true;
  END IF;
  RETURN false;
END
$$;

-- demoted: N21, N22. An old primary rejoins once the new primary is healthy and writable.
CREATE FUNCTION pgautofailover.proceed_from_demoted(
  a pgautofailover.node, p pgautofailover.node, cfg pgautofailover.fsm_settings)
RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
  plabel text := pgautofailover.primary_label(p);
BEGIN
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
  RETURN false;
END
$$;

-- join_secondary: N23, N24. After an election, a standby follows the new primary; when that
-- primary is still wait_primary its own rules run at once (it may turn primary now, N23).
CREATE FUNCTION pgautofailover.proceed_from_join_secondary(
  a pgautofailover.node, p pgautofailover.node, cfg pgautofailover.fsm_settings)
RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
  plabel text := pgautofailover.primary_label(p);
BEGIN
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

-- Rules for a node that is not in a primary state (§2.3), p being the group's primary or
-- demoted primary (may be NULL). Returns true when a goal changed.
--
-- Order, and why:
--  1. report_lsn (N1, N2) and fast_forward (N3) come before the election: a standby asked for
--     its LSN whose primary is back returns to secondary instead of electing; a candidate
--     that fetched its WAL is promoted.
--  2. N4: any node reporting, or sent to, report_lsn or fast_forward is part of an election,
--     whatever else holds: proceed_election decides for it, and nothing below runs.
--  3. A candidate (goal prepare_promotion or stop_replication, whatever it reports) whose old
--     primary is being dropped waits: that primary may still take writes until it confirms.
--  4. Otherwise the rules of the state the node reports; demote_timeout (H207) is the only one
--     that does not also need the goal to be that state.
CREATE OR REPLACE FUNCTION pgautofailover.proceed_standby(
  a pgautofailover.node, p pgautofailover.node, cfg pgautofailover.fsm_settings)
RETURNS bool LANGUAGE plpgsql AS $$
BEGIN
  -- 1.
  IF a.reportedstate = 'report_lsn' AND pgautofailover.proceed_from_report_lsn(a, p, cfg) THEN
    RETURN true;
  END IF;
  IF a.reportedstate = 'fast_forward' AND pgautofailover.proceed_from_fast_forward(a) THEN
    RETURN true;
  END IF;

  -- 2. N4: an election in progress
  IF a.reportedstate IN ('report_lsn', 'fast_forward') OR a.goalstate IN ('report_lsn', 'fast_forward') THEN
    RETURN pgautofailover.proceed_election(a, p, cfg);
  END IF;

  -- 3. a primary being removed may still take writes: no candidate moves on before it confirmed
  IF a.goalstate IN ('prepare_promotion', 'stop_replication') AND p.nodeid IS NOT NULL AND p.goalstate = 'dropped' THEN
    RETURN false;
  END IF;

  -- 4.
  CASE a.reportedstate
    WHEN 'wait_standby' THEN RETURN pgautofailover.proceed_from_wait_standby(a, p);
    WHEN 'catchingup' THEN RETURN pgautofailover.proceed_from_catchingup(a, p, cfg);
    WHEN 'secondary' THEN RETURN pgautofailover.proceed_from_secondary(a, p, cfg);
    WHEN 'wait_maintenance' THEN RETURN pgautofailover.proceed_from_wait_maintenance(a, p);
    WHEN 'prepare_promotion' THEN RETURN pgautofailover.proceed_from_prepare_promotion(a, p, cfg);
    WHEN 'stop_replication' THEN RETURN pgautofailover.proceed_from_stop_replication(a, p, cfg);
    WHEN 'demote_timeout' THEN RETURN pgautofailover.proceed_from_demote_timeout(a);
    WHEN 'demoted' THEN RETURN pgautofailover.proceed_from_demoted(a, p, cfg);
    WHEN 'join_secondary' THEN RETURN pgautofailover.proceed_from_join_secondary(a, p, cfg);
    ELSE RETURN false;
  END CASE;
END
$$;

-- ---------------------------------------------------------------- grants.sql, re-run (keep this last)
-- Privileges: autoctl_node (operators, and keepers without a role of their own) may read the
-- tables and call the API, nothing else; per-node keeper roles (pgautofailover_keeper) the
-- keeper's part of it, for their own node; internal helpers stay private to the owner.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgautofailover FROM PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA pgautofailover TO autoctl_node, autoctl;
REVOKE ALL ON pgautofailover.node_credential FROM autoctl_node, autoctl;
-- the settings cache is the owner's alone (settings.sql: a keeper must not read or poison it)
REVOKE ALL ON pgautofailover.settings_cache FROM autoctl_node, autoctl;
GRANT SELECT ON pgautofailover.node, pgautofailover.formation, pgautofailover.event, pgautofailover.settings
  TO pgautofailover_keeper;

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
  pgautofailover.get_goal_and_standby_names(bigint),
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
  pgautofailover.settings_in_force(),
  pgautofailover.enroll_keeper(bigint, text),
  pgautofailover.get_coordinator(text)
TO autoctl_node, autoctl;

-- A keeper role: its own node's heartbeat, metadata, maintenance, settings and removal, and
-- reading the group (each node-changing function checks that the node is its own).
GRANT EXECUTE ON FUNCTION
  pgautofailover.node_active(text, bigint, int, pgautofailover.replication_state, bool, int, pg_lsn, text),
  pgautofailover.get_nodes(text, int),
  pgautofailover.get_primary(text, int),
  pgautofailover.get_other_nodes(bigint),
  pgautofailover.get_other_nodes(bigint, pgautofailover.replication_state),
  pgautofailover.get_most_advanced_standby(text, int),
  pgautofailover.remove_node(bigint, bool),
  pgautofailover.remove_node(text, int, bool),
  pgautofailover.start_maintenance(bigint),
  pgautofailover.stop_maintenance(bigint),
  pgautofailover.set_node_candidate_priority(text, text, int),
  pgautofailover.set_node_replication_quorum(text, text, bool),
  pgautofailover.set_node_system_identifier(bigint, bigint),
  pgautofailover.update_node_metadata(bigint, text, text, int),
  pgautofailover.synchronous_standby_names(text, int),
  pgautofailover.get_goal_and_standby_names(bigint),
  pgautofailover.last_events(int),
  pgautofailover.last_events(text, int),
  pgautofailover.last_events(text, int, int),
  pgautofailover.current_state(text),
  pgautofailover.current_state(text, int),
  pgautofailover.formation_uri(text, text, text, text, text),
  pgautofailover.formation_settings(text),
  pgautofailover.monitor_settings(),
  pgautofailover.settings_in_force(),
  pgautofailover.enroll_keeper(bigint, text),
  pgautofailover.get_coordinator(text)
TO pgautofailover_keeper;

-- Only the roles of pgaf connect to the monitor database (the owner and superusers always can).
DO $connect$
BEGIN
  EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO autoctl_node, autoctl, pgautofailover_keeper', current_database());
END
$connect$;

-- the health worker runs as autoctl (or the superuser) on the monitor host
GRANT EXECUTE ON FUNCTION
  pgautofailover.report_health(bigint[], int[]),
  pgautofailover.health_check_targets()
TO autoctl;

-- ---------------------------------------------------------------- settings.sql (defaults)
-- Failover within 2 s (issue #12.1): faster health checks and a shorter keeper silence.
CREATE OR REPLACE FUNCTION pgautofailover.setting_defaults(
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
