-- The group state machine (spec §2.2–§2.4): run inside node_active, register_node and the
-- operator APIs, under the group lock. Each rule has a stable id (monitor-ext/RULES.md).
-- The standby rules are in standby_fsm.sql, the election in multi_standby.sql.

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
