-- pgaf 1.0 → 1.1: the operator's data-loss allowance (`perform failover --allow-data-loss`).
-- Only the delta: a new table and three functions, the election (H379) and the group state
-- machine (the allowance ends when the group has a primary again), and their privileges.
-- A monitor updated with this script must end up with the catalog of a fresh 1.1
-- (test/monitor/extension-upgrade.test.ts compares them, function bodies included).
\echo Use "ALTER EXTENSION pgaf UPDATE TO '1.1'" to load this file. \quit

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

-- the election lifts the guard when the operator allowed it (H379)
-- Runs the election for the group of a (the active node), p being the old primary (or NULL).
-- Returns true when the election handled the call (the caller applies no further rule).
CREATE OR REPLACE FUNCTION pgautofailover.proceed_election(
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

-- Entry point (§2.2): decide new goal states for the group of node active_id.
-- Returns true when some goal changed.
CREATE OR REPLACE FUNCTION pgautofailover.proceed_group_state(active_id bigint) RETURNS bool
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

-- privileges, as grants.sql gives them in a fresh install
REVOKE ALL ON FUNCTION
  pgautofailover.data_loss_guard_lifted(text, int),
  pgautofailover.end_data_loss_allowance(pgautofailover.node),
  pgautofailover.allow_data_loss(text, int, int)
FROM PUBLIC;
GRANT SELECT ON pgautofailover.data_loss_allowance TO autoctl_node, autoctl;
GRANT EXECUTE ON FUNCTION pgautofailover.allow_data_loss(text, int, int) TO autoctl_node, autoctl;
