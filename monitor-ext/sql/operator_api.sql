-- Operator APIs (spec §2.6): each validates, takes the group lock, assigns goals, and
-- refuses with a clear error and no change when its preconditions do not hold.

CREATE FUNCTION pgautofailover.refuse(msg text, hint text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%', msg USING ERRCODE = 'object_not_in_prerequisite_state', HINT = coalesce(hint, '');
END
$$;

CREATE FUNCTION pgautofailover.perform_failover(formation_id text DEFAULT 'default', group_id int DEFAULT 0)
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

CREATE FUNCTION pgautofailover.perform_promotion(formation_id text, node_name text)
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

CREATE FUNCTION pgautofailover.start_maintenance(node_id bigint)
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

CREATE FUNCTION pgautofailover.stop_maintenance(node_id bigint)
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
RETURNS bool LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgautofailover.authorize_node(node_id, 'remove');
  RETURN pgautofailover.remove_node_internal(pgautofailover.find_node(node_id), force);
END
$$;

CREATE FUNCTION pgautofailover.remove_node(node_host text, node_port int DEFAULT 5432, force bool DEFAULT false)
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
CREATE FUNCTION pgautofailover.apply_settings_on_primary(formation text, grp int, why text)
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

CREATE FUNCTION pgautofailover.find_node_by_name(formation_id text, node_name text) RETURNS pgautofailover.node
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

CREATE FUNCTION pgautofailover.set_node_candidate_priority(formation_id text, node_name text, candidate_priority int)
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

CREATE FUNCTION pgautofailover.set_node_replication_quorum(formation_id text, node_name text, replication_quorum bool)
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

CREATE FUNCTION pgautofailover.set_formation_number_sync_standbys(formation_id text, number_sync_standbys int)
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

CREATE FUNCTION pgautofailover.set_node_system_identifier(
  IN node_id bigint, IN node_sysidentifier bigint,
  OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int)
RETURNS record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT pgautofailover.authorize_node($1, 'set the system identifier of');
  UPDATE pgautofailover.node SET sysidentifier = node_sysidentifier
   WHERE nodeid = set_node_system_identifier.node_id
  RETURNING nodeid, nodename, nodehost, nodeport;
$$;

CREATE FUNCTION pgautofailover.set_group_system_identifier(
  IN group_id bigint, IN node_sysidentifier bigint,
  OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  UPDATE pgautofailover.node SET sysidentifier = node_sysidentifier
   WHERE groupid = group_id AND (sysidentifier IS NULL OR sysidentifier = 0)
  RETURNING nodeid, nodename, nodehost, nodeport;
$$;

CREATE FUNCTION pgautofailover.update_node_metadata(node_id bigint, node_name text, node_host text, node_port int)
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

CREATE FUNCTION pgautofailover.insert_formation(
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

-- IN and OUT arguments share their names (as in the original), which PL/pgSQL refuses: a
-- SQL wrapper keeps the signature.
CREATE FUNCTION pgautofailover.create_formation(
  IN formation_id text, IN kind text, IN dbname name, IN opt_secondary bool, IN number_sync_standbys int,
  OUT formation_id text, OUT kind text, OUT dbname name, OUT opt_secondary bool, OUT number_sync_standbys int)
RETURNS record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT f.formationid, f.kind, f.dbname, f.opt_secondary, f.number_sync_standbys
    FROM pgautofailover.insert_formation($1, $2, $3, $4, $5) f
$$;

CREATE FUNCTION pgautofailover.drop_formation(formation_id text)
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

CREATE FUNCTION pgautofailover.set_opt_secondary(formation_id text, enabled bool)
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

CREATE FUNCTION pgautofailover.enable_secondary(formation_id text)
RETURNS bool LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT pgautofailover.set_opt_secondary($1, true)
$$;

CREATE FUNCTION pgautofailover.disable_secondary(formation_id text)
RETURNS bool LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT pgautofailover.set_opt_secondary($1, false)
$$;
