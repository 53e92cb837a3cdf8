-- Per-node keeper roles (issue #10.5): a keeper may change its own node only.
--
-- The operator's role (autoctl_node, as in pg_auto_failover, and autoctl) keeps the whole API:
-- registering nodes, failovers, formations, any node's settings. A keeper, once registered,
-- enrolls a login role of its own, pgaf_keeper_<database oid>_<node id>, member of the
-- NOLOGIN group pgautofailover_keeper, by sending the SCRAM verifier of a password it
-- generated (the password never reaches the monitor). Sessions of such a role may call only
-- the keeper's part of the API, and only for their own node (authorize_node); a role whose
-- node is gone may act on no node.

CREATE TABLE pgautofailover.node_credential (
  nodeid      bigint NOT NULL REFERENCES pgautofailover.node (nodeid) ON DELETE CASCADE,
  rolname     name NOT NULL UNIQUE,
  enrolled_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (nodeid)
);

-- The node the session's login role keeps; NULL when the session is not a keeper role (an
-- operator, a superuser), 0 when it is one whose node is gone.
CREATE FUNCTION pgautofailover.session_keeper_node() RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
  r pg_catalog.pg_roles;
  id bigint;
BEGIN
  SELECT * INTO r FROM pg_catalog.pg_roles WHERE rolname = session_user;
  IF r.rolname IS NULL THEN
    RETURN 0;  -- a keeper role dropped with its node while its session went on
  END IF;
  IF r.rolsuper OR NOT pg_catalog.pg_has_role(session_user, 'pgautofailover_keeper', 'MEMBER') THEN
    RETURN NULL;
  END IF;
  SELECT c.nodeid INTO id FROM pgautofailover.node_credential c WHERE c.rolname = session_user;
  RETURN coalesce(id, 0);
END
$$;

-- Raises unless the session may act on node node_id: an operator may act on any node, a
-- keeper role on its own node only.
CREATE FUNCTION pgautofailover.authorize_node(node_id bigint, action text) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
  own bigint := pgautofailover.session_keeper_node();
BEGIN
  -- (a node that does not exist cannot be changed: its functions say it is not registered)
  IF own IS NOT NULL AND own IS DISTINCT FROM node_id
     AND EXISTS (SELECT 1 FROM pgautofailover.node n WHERE n.nodeid = node_id) THEN
    RAISE EXCEPTION 'role % is the keeper role of %: it cannot % node %', session_user,
                    CASE WHEN own = 0 THEN 'a node that is gone' ELSE 'node ' || own END, action, node_id
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'a keeper acts on its own node only; operator commands use the operator''s role (autoctl_node)';
  END IF;
END
$$;

-- The keeper of node_id sends the SCRAM-SHA-256 verifier of its new password; returns the role
-- to log in as. The operator's role may enroll any node, a keeper role re-enroll its own.
CREATE FUNCTION pgautofailover.enroll_keeper(node_id bigint, password_verifier text) RETURNS name
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pgautofailover, pg_catalog, pg_temp AS $$
DECLARE
  n pgautofailover.node;
  r name;
  existing pg_catalog.pg_roles;
BEGIN
  IF node_id IS NULL OR password_verifier IS NULL THEN
    RAISE EXCEPTION 'enroll_keeper needs a node id and a password verifier, not NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  -- (32-byte keys: anything else PostgreSQL would take for a password and hash)
  IF password_verifier !~ '^SCRAM-SHA-256\$[0-9]{4,7}:[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$' THEN
    RAISE EXCEPTION 'password_verifier must be a SCRAM-SHA-256 verifier (SCRAM-SHA-256$<iterations>:<salt>$<stored key>:<server key>)'
      USING ERRCODE = 'invalid_parameter_value', HINT = 'the keeper sends the verifier of its password, never the password';
  END IF;
  PERFORM pgautofailover.authorize_node(node_id, 'enroll a keeper role for');
  n := pgautofailover.find_node(node_id);
  r := format('pgaf_keeper_%s_%s', (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = current_database()), n.nodeid);
  SELECT * INTO existing FROM pg_catalog.pg_roles WHERE rolname = r;
  IF existing.rolname IS NULL THEN
    EXECUTE format('CREATE ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION CONNECTION LIMIT 8 PASSWORD %L IN ROLE pgautofailover_keeper',
                   r, password_verifier);
  ELSIF existing.rolsuper OR NOT pg_catalog.pg_has_role(r, 'pgautofailover_keeper', 'MEMBER') THEN
    RAISE EXCEPTION 'role % exists and is not a pgaf keeper role', r USING ERRCODE = 'duplicate_object';
  ELSE
    EXECUTE format('ALTER ROLE %I WITH LOGIN PASSWORD %L', r, password_verifier);
  END IF;
  INSERT INTO pgautofailover.node_credential AS c (nodeid, rolname) VALUES (n.nodeid, r)
  ON CONFLICT (nodeid) DO UPDATE SET rolname = excluded.rolname, enrolled_at = now();
  PERFORM pg_notify('log', format('%s now logs in as its own keeper role %s', pgautofailover.node_label(n), r));
  RETURN r;
END
$$;

-- A removed node's keeper role goes with it, and so do earlier ones that could not be dropped
-- then (the keeper's own session removed its node: a session cannot drop its own role). A
-- role that cannot be dropped yet stays, and can act on no node.
CREATE FUNCTION pgautofailover.drop_keeper_role() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  r name;
BEGIN
  FOR r IN SELECT k.rolname FROM pg_catalog.pg_roles k
            WHERE (k.rolname = OLD.rolname
                   OR k.rolname LIKE format('pgaf\_keeper\_%s\_%%', (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = current_database())))
              AND pg_catalog.pg_has_role(k.rolname, 'pgautofailover_keeper', 'MEMBER') AND NOT k.rolsuper
              AND NOT EXISTS (SELECT 1 FROM pgautofailover.node_credential c WHERE c.rolname = k.rolname) LOOP
    BEGIN
      EXECUTE format('DROP ROLE %I', r);
    EXCEPTION WHEN dependent_objects_still_exist OR insufficient_privilege OR object_in_use THEN
      NULL;  -- kept for now
    END;
  END LOOP;
  RETURN OLD;
END
$$;

CREATE TRIGGER drop_keeper_role
  AFTER DELETE ON pgautofailover.node_credential
  FOR EACH ROW EXECUTE FUNCTION pgautofailover.drop_keeper_role();
