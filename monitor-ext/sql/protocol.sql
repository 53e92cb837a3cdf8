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
