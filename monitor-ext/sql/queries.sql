-- Read-only API: node lists, primary lookup, events, state, URIs and settings.

CREATE FUNCTION pgautofailover.get_nodes(
  IN formation_id text DEFAULT 'default', IN group_id int DEFAULT NULL,
  OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int,
  OUT node_lsn pg_lsn, OUT node_is_primary bool)
RETURNS SETOF record LANGUAGE sql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT nodeid, nodename, nodehost, nodeport, reportedlsn, pgautofailover.can_take_writes(reportedstate)
    FROM pgautofailover.node
   WHERE formationid = formation_id AND (group_id IS NULL OR groupid = group_id)
   ORDER BY nodeid
$$;

CREATE FUNCTION pgautofailover.get_primary(
  IN formation_id text DEFAULT 'default', IN group_id int DEFAULT 0,
  OUT primary_node_id bigint, OUT primary_name text, OUT primary_host text, OUT primary_port int)
RETURNS record LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
DECLARE
  p pgautofailover.node := pgautofailover.primary_or_demoted(formation_id, group_id);
BEGIN
  IF p.nodeid IS NULL THEN
    RAISE EXCEPTION 'formation "%" group % has no primary node', formation_id, group_id
      USING ERRCODE = 'no_data_found';
  END IF;
  primary_node_id := p.nodeid;
  primary_name := p.nodename;
  primary_host := p.nodehost;
  primary_port := p.nodeport;
END
$$;

CREATE FUNCTION pgautofailover.get_other_nodes(
  IN nodeid bigint,
  OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int,
  OUT node_lsn pg_lsn, OUT node_is_primary bool)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT o.nodeid, o.nodename, o.nodehost, o.nodeport, o.reportedlsn, pgautofailover.can_take_writes(o.reportedstate)
    FROM pgautofailover.node me
    JOIN pgautofailover.node o ON o.formationid = me.formationid AND o.groupid = me.groupid AND o.nodeid <> me.nodeid
   WHERE me.nodeid = get_other_nodes.nodeid
   ORDER BY o.nodeid
$$;

CREATE FUNCTION pgautofailover.get_other_nodes(
  IN nodeid bigint, IN current_state pgautofailover.replication_state,
  OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int,
  OUT node_lsn pg_lsn, OUT node_is_primary bool)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT o.nodeid, o.nodename, o.nodehost, o.nodeport, o.reportedlsn, pgautofailover.can_take_writes(o.reportedstate)
    FROM pgautofailover.node me
    JOIN pgautofailover.node o ON o.formationid = me.formationid AND o.groupid = me.groupid AND o.nodeid <> me.nodeid
   WHERE me.nodeid = get_other_nodes.nodeid AND o.reportedstate = current_state
   ORDER BY o.nodeid
$$;

CREATE FUNCTION pgautofailover.get_most_advanced_standby(
  IN formationid text DEFAULT 'default', IN groupid int DEFAULT 0,
  OUT node_id bigint, OUT node_name text, OUT node_host text, OUT node_port int,
  OUT node_lsn pg_lsn, OUT node_is_primary bool)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT n.nodeid, n.nodename, n.nodehost, n.nodeport, n.reportedlsn, false
    FROM pgautofailover.node n
   WHERE n.formationid = get_most_advanced_standby.formationid AND n.groupid = get_most_advanced_standby.groupid
     AND n.reportedstate = 'report_lsn'
   ORDER BY n.reportedtli DESC, n.reportedlsn DESC, n.health DESC, n.nodeid
   LIMIT 1
$$;

CREATE FUNCTION pgautofailover.last_events(count int DEFAULT 10)
RETURNS SETOF pgautofailover.event LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT * FROM (SELECT * FROM pgautofailover.event ORDER BY eventid DESC LIMIT greatest(count, 0)) e
   ORDER BY eventid
$$;

CREATE FUNCTION pgautofailover.last_events(formation_id text DEFAULT 'default', count int DEFAULT 10)
RETURNS SETOF pgautofailover.event LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT * FROM (SELECT * FROM pgautofailover.event WHERE formationid = formation_id
                  ORDER BY eventid DESC LIMIT greatest(count, 0)) e
   ORDER BY eventid
$$;

CREATE FUNCTION pgautofailover.last_events(formation_id text, group_id int, count int DEFAULT 10)
RETURNS SETOF pgautofailover.event LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT * FROM (SELECT * FROM pgautofailover.event WHERE formationid = formation_id AND groupid = group_id
                  ORDER BY eventid DESC LIMIT greatest(count, 0)) e
   ORDER BY eventid
$$;

CREATE FUNCTION pgautofailover.current_state(
  IN formation_id text DEFAULT 'default',
  OUT formation_kind text, OUT nodename text, OUT nodehost text, OUT nodeport int, OUT group_id int,
  OUT node_id bigint, OUT current_group_state pgautofailover.replication_state,
  OUT assigned_group_state pgautofailover.replication_state, OUT candidate_priority int,
  OUT replication_quorum bool, OUT reported_tli int, OUT reported_lsn pg_lsn, OUT health int,
  OUT nodecluster text)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT f.kind, n.nodename, n.nodehost, n.nodeport, n.groupid, n.nodeid, n.reportedstate, n.goalstate,
         n.candidatepriority, n.replicationquorum, n.reportedtli, n.reportedlsn, n.health, n.nodecluster
    FROM pgautofailover.node n JOIN pgautofailover.formation f USING (formationid)
   WHERE n.formationid = formation_id
   ORDER BY n.groupid, n.nodeid
$$;

CREATE FUNCTION pgautofailover.current_state(
  IN formation_id text, IN group_id int,
  OUT formation_kind text, OUT nodename text, OUT nodehost text, OUT nodeport int, OUT group_id int,
  OUT node_id bigint, OUT current_group_state pgautofailover.replication_state,
  OUT assigned_group_state pgautofailover.replication_state, OUT candidate_priority int,
  OUT replication_quorum bool, OUT reported_tli int, OUT reported_lsn pg_lsn, OUT health int,
  OUT nodecluster text)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT f.kind, n.nodename, n.nodehost, n.nodeport, n.groupid, n.nodeid, n.reportedstate, n.goalstate,
         n.candidatepriority, n.replicationquorum, n.reportedtli, n.reportedlsn, n.health, n.nodecluster
    FROM pgautofailover.node n JOIN pgautofailover.formation f USING (formationid)
   WHERE n.formationid = $1 AND n.groupid = $2
   ORDER BY n.nodeid
$$;

-- The synchronous standbys of the group's primary: k and the ids in priority order
-- (k = 0 and no ids when synchronous replication is off).
CREATE FUNCTION pgautofailover.sync_standby_set(
  IN formation_id text, IN group_id int, OUT quorum int, OUT ids bigint[])
RETURNS record LANGUAGE plpgsql STABLE AS $$
DECLARE
  f pgautofailover.formation;
  p pgautofailover.node;
  node_count int;
  standby pgautofailover.node;
BEGIN
  quorum := 0;
  ids := '{}';
  SELECT * INTO f FROM pgautofailover.formation x WHERE x.formationid = formation_id;
  IF f.formationid IS NULL THEN
    RAISE EXCEPTION 'formation "%" does not exist', formation_id USING ERRCODE = 'undefined_object';
  END IF;
  p := pgautofailover.primary_or_demoted(formation_id, group_id);
  IF p.nodeid IS NULL THEN
    RAISE EXCEPTION 'formation "%" group % has no primary node', formation_id, group_id USING ERRCODE = 'no_data_found';
  END IF;
  SELECT count(*) INTO node_count FROM pgautofailover.node x
   WHERE x.formationid = formation_id AND x.groupid = group_id AND x.goalstate <> 'dropped';
  IF node_count = 2 THEN
    SELECT * INTO standby FROM pgautofailover.node x
     WHERE x.formationid = formation_id AND x.groupid = group_id AND x.nodeid <> p.nodeid AND x.goalstate <> 'dropped';
    IF standby.replicationquorum AND standby.goalstate = 'secondary' THEN
      quorum := 1;
      ids := ARRAY[standby.nodeid];
    END IF;
  ELSIF node_count > 2 AND NOT pgautofailover.is_current_state(p, 'wait_primary') THEN
    SELECT coalesce(array_agg(x.nodeid ORDER BY x.candidatepriority DESC, x.nodeid), '{}')
      INTO ids
      FROM pgautofailover.node x
     WHERE x.formationid = formation_id AND x.groupid = group_id AND x.nodeid <> p.nodeid
       AND x.replicationquorum AND x.goalstate NOT IN ('dropped', 'maintenance', 'wait_maintenance');
    IF cardinality(ids) > 0 THEN
      quorum := greatest(f.number_sync_standbys, 1);
    END IF;
  END IF;
END
$$;

-- ANY k (pgautofailover_standby_<id>, …) for the group's primary, or ''.
CREATE FUNCTION pgautofailover.synchronous_standby_names(formation_id text DEFAULT 'default', group_id int DEFAULT 0)
RETURNS text LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT CASE WHEN s.quorum = 0 THEN ''
              ELSE format('ANY %s (%s)', s.quorum,
                          (SELECT string_agg('pgautofailover_standby_' || id, ', ' ORDER BY ord)
                             FROM unnest(s.ids) WITH ORDINALITY AS u(id, ord)))
         END
    FROM pgautofailover.sync_standby_set($1, $2) s
$$;

-- The goal of node node_id and the synchronous_standby_names of its group, read in one call, so
-- that a primary's keeper applies the names only while its goal is still primary (the keeper's
-- read: the layout of pgautofailover.node is not part of its contract). No row for a node that
-- is not registered.
CREATE FUNCTION pgautofailover.get_goal_and_standby_names(
  IN node_id bigint, OUT goal_state pgautofailover.replication_state, OUT standby_names text)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT n.goalstate, pgautofailover.synchronous_standby_names(n.formationid, n.groupid)
    FROM pgautofailover.node n
   WHERE n.nodeid = get_goal_and_standby_names.node_id
$$;

CREATE FUNCTION pgautofailover.formation_uri(
  formation_id text DEFAULT 'default', cluster_name text DEFAULT 'default', sslmode text DEFAULT 'prefer',
  sslrootcert text DEFAULT '', sslcrl text DEFAULT '')
RETURNS text LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
DECLARE
  f pgautofailover.formation;
  hosts text;
BEGIN
  PERFORM pgautofailover.check_name('formation_id', formation_id);
  PERFORM pgautofailover.check_name('cluster_name', cluster_name);
  IF sslmode NOT IN ('disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full') THEN
    RAISE EXCEPTION 'sslmode % is not valid, expected disable, allow, prefer, require, verify-ca or verify-full',
                    pgautofailover.printable(sslmode) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF sslrootcert ~ '[[:cntrl:][:space:]&#?''"]' OR sslcrl ~ '[[:cntrl:][:space:]&#?''"]' THEN
    RAISE EXCEPTION 'sslrootcert and sslcrl must be file paths without white space, control characters, quotes, ''&'', ''#'' or ''?'''
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO f FROM pgautofailover.formation x WHERE x.formationid = formation_id;
  IF f.formationid IS NULL THEN
    RAISE EXCEPTION 'formation "%" does not exist', formation_id USING ERRCODE = 'undefined_object';
  END IF;
  SELECT string_agg(format('%s:%s', CASE WHEN n.nodehost ~ ':' THEN '[' || n.nodehost || ']' ELSE n.nodehost END,
                           n.nodeport), ',' ORDER BY n.nodeid)
    INTO hosts
    FROM pgautofailover.node n
   WHERE n.formationid = formation_id AND n.groupid = 0 AND n.nodecluster = cluster_name;
  IF hosts IS NULL THEN
    RETURN NULL;
  END IF;
  RETURN format('postgres://%s/%s?%ssslmode=%s%s%s',
                hosts, f.dbname,
                CASE WHEN cluster_name = 'default' THEN 'target_session_attrs=read-write&' ELSE '' END, sslmode,
                CASE WHEN sslrootcert <> '' THEN '&sslrootcert=' || sslrootcert ELSE '' END,
                CASE WHEN sslcrl <> '' THEN '&sslcrl=' || sslcrl ELSE '' END);
END
$$;

CREATE FUNCTION pgautofailover.formation_settings(
  IN formation_id text DEFAULT 'default',
  OUT context text, OUT group_id int, OUT node_id bigint, OUT nodename text, OUT setting text, OUT value text)
RETURNS SETOF record LANGUAGE plpgsql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
DECLARE
  f pgautofailover.formation;
  n pgautofailover.node;
BEGIN
  SELECT * INTO f FROM pgautofailover.formation x WHERE x.formationid = formation_id;
  IF f.formationid IS NULL THEN
    RAISE EXCEPTION 'formation "%" does not exist', formation_id USING ERRCODE = 'undefined_object';
  END IF;
  context := 'formation'; group_id := NULL; node_id := NULL; nodename := f.formationid;
  setting := 'number_sync_standbys'; value := f.number_sync_standbys::text;
  RETURN NEXT;
  FOR n IN SELECT * FROM pgautofailover.node x WHERE x.formationid = formation_id AND pgautofailover.can_take_writes(x.goalstate)
            ORDER BY x.groupid, x.nodeid LOOP
    context := 'primary'; group_id := n.groupid; node_id := n.nodeid; nodename := n.nodename;
    setting := 'synchronous_standby_names';
    value := quote_literal(pgautofailover.synchronous_standby_names(formation_id, n.groupid));
    RETURN NEXT;
  END LOOP;
  FOR n IN SELECT * FROM pgautofailover.node x WHERE x.formationid = formation_id ORDER BY x.groupid, x.nodeid LOOP
    context := 'node'; group_id := n.groupid; node_id := n.nodeid; nodename := n.nodename;
    setting := 'replication quorum'; value := n.replicationquorum::text;
    RETURN NEXT;
  END LOOP;
  FOR n IN SELECT * FROM pgautofailover.node x WHERE x.formationid = formation_id ORDER BY x.groupid, x.nodeid LOOP
    context := 'node'; group_id := n.groupid; node_id := n.nodeid; nodename := n.nodename;
    setting := 'candidate priority'; value := n.candidatepriority::text;
    RETURN NEXT;
  END LOOP;
END
$$;

-- Citus coordinators: pgaf manages pgsql formations only, so this lists nothing for them.
CREATE FUNCTION pgautofailover.get_coordinator(
  IN formation_id text DEFAULT 'default', OUT node_host text, OUT node_port int)
RETURNS SETOF record LANGUAGE sql STRICT SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
  SELECT n.nodehost, n.nodeport
    FROM pgautofailover.node n JOIN pgautofailover.formation f USING (formationid)
   WHERE n.formationid = $1 AND f.kind = 'citus' AND n.groupid = 0
     AND n.goalstate IN ('single', 'wait_primary', 'primary', 'join_primary', 'apply_settings')
$$;
