-- Health checks: written by the health worker (a separate process on the monitor host).
-- It never runs the state machine; a change of health is an event and a NOTIFY.

-- Records one probe round: health (0 bad, 1 good) for each node id. Returns the ids whose
-- health changed.
CREATE FUNCTION pgautofailover.report_health(node_ids bigint[], healths int[])
RETURNS SETOF bigint LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
DECLARE
  n pgautofailover.node;
  r record;
BEGIN
  IF cardinality(node_ids) <> cardinality(healths) THEN
    RAISE EXCEPTION 'report_health needs as many health values (%) as node ids (%)', cardinality(healths), cardinality(node_ids)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF EXISTS (SELECT 1 FROM unnest(healths) h WHERE h NOT IN (0, 1)) THEN
    RAISE EXCEPTION 'health values must be 0 (bad) or 1 (good)' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR r IN SELECT u.id, u.h FROM unnest(node_ids, healths) AS u(id, h) ORDER BY u.id LOOP
    SELECT * INTO n FROM pgautofailover.node WHERE nodeid = r.id;
    CONTINUE WHEN n.nodeid IS NULL;
    -- the same lock order as node_active, so the two never deadlock
    PERFORM pgautofailover.lock_group(n.formationid, n.groupid);
    SELECT * INTO n FROM pgautofailover.node WHERE nodeid = r.id;
    CONTINUE WHEN n.nodeid IS NULL;
    UPDATE pgautofailover.node SET health = r.h, healthchecktime = now() WHERE nodeid = r.id;
    IF n.health IS DISTINCT FROM r.h THEN
      n.health := r.h;
      PERFORM pgautofailover.notify_event(n, 'HC', format('%s is marked as %s by the monitor.',
        pgautofailover.node_label(n), CASE WHEN r.h = 1 THEN 'healthy' ELSE 'unhealthy' END));
      RETURN NEXT n.nodeid;
    END IF;
  END LOOP;
END
$$;

-- What the health worker probes, with its settings.
CREATE FUNCTION pgautofailover.health_check_targets(
  OUT node_id bigint, OUT node_host text, OUT node_port int, OUT health int)
RETURNS SETOF record LANGUAGE sql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT nodeid, nodehost, nodeport, health FROM pgautofailover.node ORDER BY nodeid
$$;
