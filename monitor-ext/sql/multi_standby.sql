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
