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
