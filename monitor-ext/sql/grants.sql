-- Privileges: autoctl_node (operators, and keepers without a role of their own) may read the
-- tables and call the API, nothing else; per-node keeper roles (pgautofailover_keeper) the
-- keeper's part of it, for their own node; internal helpers stay private to the owner.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgautofailover FROM PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA pgautofailover TO autoctl_node, autoctl;
REVOKE ALL ON pgautofailover.node_credential FROM autoctl_node, autoctl;
-- the settings cache is the owner's alone (settings.sql: a keeper must not read or poison it)
REVOKE ALL ON pgautofailover.settings_cache FROM autoctl_node, autoctl;
GRANT SELECT ON pgautofailover.node, pgautofailover.formation, pgautofailover.event, pgautofailover.settings
  TO pgautofailover_keeper;

GRANT EXECUTE ON FUNCTION
  pgautofailover.register_node(text, text, int, name, text, bigint, bigint, int, pgautofailover.replication_state, text, int, bool, text),
  pgautofailover.node_active(text, bigint, int, pgautofailover.replication_state, bool, int, pg_lsn, text),
  pgautofailover.get_nodes(text, int),
  pgautofailover.get_primary(text, int),
  pgautofailover.get_other_nodes(bigint),
  pgautofailover.get_other_nodes(bigint, pgautofailover.replication_state),
  pgautofailover.get_most_advanced_standby(text, int),
  pgautofailover.remove_node(bigint, bool),
  pgautofailover.remove_node(text, int, bool),
  pgautofailover.perform_failover(text, int),
  pgautofailover.allow_data_loss(text, int, int),
  pgautofailover.perform_promotion(text, text),
  pgautofailover.start_maintenance(bigint),
  pgautofailover.stop_maintenance(bigint),
  pgautofailover.set_node_candidate_priority(text, text, int),
  pgautofailover.set_node_replication_quorum(text, text, bool),
  pgautofailover.set_formation_number_sync_standbys(text, int),
  pgautofailover.set_node_system_identifier(bigint, bigint),
  pgautofailover.set_group_system_identifier(bigint, bigint),
  pgautofailover.update_node_metadata(bigint, text, text, int),
  pgautofailover.synchronous_standby_names(text, int),
  pgautofailover.get_goal_and_standby_names(bigint),
  pgautofailover.last_events(int),
  pgautofailover.last_events(text, int),
  pgautofailover.last_events(text, int, int),
  pgautofailover.current_state(text),
  pgautofailover.current_state(text, int),
  pgautofailover.formation_uri(text, text, text, text, text),
  pgautofailover.formation_settings(text),
  pgautofailover.create_formation(text, text, name, bool, int),
  pgautofailover.drop_formation(text),
  pgautofailover.enable_secondary(text),
  pgautofailover.disable_secondary(text),
  pgautofailover.monitor_settings(),
  pgautofailover.settings_in_force(),
  pgautofailover.enroll_keeper(bigint, text),
  pgautofailover.get_coordinator(text)
TO autoctl_node, autoctl;

-- A keeper role: its own node's heartbeat, metadata, maintenance, settings and removal, and
-- reading the group (each node-changing function checks that the node is its own).
GRANT EXECUTE ON FUNCTION
  pgautofailover.node_active(text, bigint, int, pgautofailover.replication_state, bool, int, pg_lsn, text),
  pgautofailover.get_nodes(text, int),
  pgautofailover.get_primary(text, int),
  pgautofailover.get_other_nodes(bigint),
  pgautofailover.get_other_nodes(bigint, pgautofailover.replication_state),
  pgautofailover.get_most_advanced_standby(text, int),
  pgautofailover.remove_node(bigint, bool),
  pgautofailover.remove_node(text, int, bool),
  pgautofailover.start_maintenance(bigint),
  pgautofailover.stop_maintenance(bigint),
  pgautofailover.set_node_candidate_priority(text, text, int),
  pgautofailover.set_node_replication_quorum(text, text, bool),
  pgautofailover.set_node_system_identifier(bigint, bigint),
  pgautofailover.update_node_metadata(bigint, text, text, int),
  pgautofailover.synchronous_standby_names(text, int),
  pgautofailover.get_goal_and_standby_names(bigint),
  pgautofailover.last_events(int),
  pgautofailover.last_events(text, int),
  pgautofailover.last_events(text, int, int),
  pgautofailover.current_state(text),
  pgautofailover.current_state(text, int),
  pgautofailover.formation_uri(text, text, text, text, text),
  pgautofailover.formation_settings(text),
  pgautofailover.monitor_settings(),
  pgautofailover.settings_in_force(),
  pgautofailover.enroll_keeper(bigint, text),
  pgautofailover.get_coordinator(text)
TO pgautofailover_keeper;

-- Only the roles of pgaf connect to the monitor database (the owner and superusers always can).
DO $connect$
BEGIN
  EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO autoctl_node, autoctl, pgautofailover_keeper', current_database());
END
$connect$;

-- the health worker runs as autoctl (or the superuser) on the monitor host
GRANT EXECUTE ON FUNCTION
  pgautofailover.report_health(bigint[], int[]),
  pgautofailover.health_check_targets()
TO autoctl;
