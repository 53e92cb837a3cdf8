-- PATCH_SQL for bench/monitor-throughput (TARGETS=ours,patched,c): the state machine reads the
-- settings afresh on every heartbeat (pg_file_settings, parsing), as before the settings cache
-- (monitor-ext/sql/settings.sql): the "before" column of docs/benchmarks.md, in the same run.
CREATE OR REPLACE FUNCTION pgautofailover.fsm_settings() RETURNS pgautofailover.fsm_settings
LANGUAGE plpgsql VOLATILE AS $$ BEGIN RETURN pgautofailover.read_fsm_settings(); END $$;
