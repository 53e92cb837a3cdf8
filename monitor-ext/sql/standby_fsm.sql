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
CREATE FUNCTION pgautofailover.proceed_standby(
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
