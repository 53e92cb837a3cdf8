-- Privileges: autoctl_node (keepers, operators) may read the tables and call the API,
-- nothing else; internal helpers stay private to the owner.

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgautofailover FROM PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA pgautofailover TO autoctl_node, autoctl;

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
  pgautofailover.get_coordinator(text)
TO autoctl_node, autoctl;

-- the health worker runs as autoctl (or the superuser) on the monitor host
GRANT EXECUTE ON FUNCTION
  pgautofailover.report_health(bigint[], int[]),
  pgautofailover.health_check_targets()
TO autoctl;
