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
