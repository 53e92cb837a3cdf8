-- Roles, schema, types and tables of the pgaf monitor.

DO $roles$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'autoctl_node') THEN
    CREATE ROLE autoctl_node WITH LOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'autoctl') THEN
    CREATE ROLE autoctl WITH LOGIN;
  END IF;
  -- the group of the per-node keeper roles (keepers.sql): each may act on its own node only
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pgautofailover_keeper') THEN
    CREATE ROLE pgautofailover_keeper WITH NOLOGIN;
  END IF;
END
$roles$;

GRANT USAGE ON SCHEMA pgautofailover TO autoctl_node, autoctl, pgautofailover_keeper;

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
