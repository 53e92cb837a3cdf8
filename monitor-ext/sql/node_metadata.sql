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
