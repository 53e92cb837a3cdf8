-- Event rows and notifications: every goal change and every newly reported state.

-- Writes the event row for node n (as it is now), NOTIFYs 'state' (JSON) and 'log' (text).
CREATE FUNCTION pgautofailover.notify_event(n pgautofailover.node, rule text, description text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO pgautofailover.event
    (formationid, nodeid, groupid, nodename, nodehost, nodeport, reportedstate, goalstate,
     reportedrepstate, reportedtli, reportedlsn, candidatepriority, replicationquorum,
     description, ruleid)
  VALUES
    (n.formationid, n.nodeid, n.groupid, n.nodename, n.nodehost, n.nodeport, n.reportedstate,
     n.goalstate, n.reportedrepstate, n.reportedtli, n.reportedlsn, n.candidatepriority,
     n.replicationquorum, description, rule);
  PERFORM pg_notify('state', json_build_object(
    'type', 'state', 'formation', n.formationid, 'groupId', n.groupid, 'nodeId', n.nodeid,
    'name', n.nodename, 'host', n.nodehost, 'port', n.nodeport,
    'reportedState', n.reportedstate, 'goalState', n.goalstate,
    'health', pgautofailover.health_name(n.health), 'rule', rule)::text);
  PERFORM pg_notify('log', format('[%s] %s', rule, description));
END
$$;

-- An event that changes no goal (elections that wait or refuse), written once:
-- not again while the group's last event says the same.
CREATE FUNCTION pgautofailover.notify_once(n pgautofailover.node, rule text, description text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce((SELECT e.description FROM pgautofailover.event e
                WHERE e.formationid = n.formationid AND e.groupid = n.groupid
                ORDER BY e.eventid DESC LIMIT 1), '') <> description THEN
    PERFORM pgautofailover.notify_event(n, rule, description);
  END IF;
END
$$;

-- Sets node_id's goal state (when it differs), with its event. Returns the updated row.
CREATE FUNCTION pgautofailover.assign_goal(
  node_id bigint, goal pgautofailover.replication_state, rule text, description text)
RETURNS pgautofailover.node LANGUAGE plpgsql AS $$
DECLARE
  n pgautofailover.node;
BEGIN
  UPDATE pgautofailover.node SET goalstate = goal, statechangetime = now()
   WHERE nodeid = node_id AND goalstate IS DISTINCT FROM goal
  RETURNING * INTO n;
  IF n.nodeid IS NULL THEN
    SELECT * INTO n FROM pgautofailover.node WHERE nodeid = node_id;
    RETURN n;
  END IF;
  PERFORM pgautofailover.notify_event(n, rule, description);
  RETURN n;
END
$$;

-- assign_goal with the standard sentence: "Setting goal state of <node> to <goal>: <why>."
CREATE FUNCTION pgautofailover.set_goal(
  n pgautofailover.node, goal pgautofailover.replication_state, rule text, why text)
RETURNS pgautofailover.node LANGUAGE sql AS $$
  SELECT pgautofailover.assign_goal(n.nodeid, goal, rule,
           format('Setting goal state of %s to %s: %s.', pgautofailover.node_label(n), goal, why))
$$;
