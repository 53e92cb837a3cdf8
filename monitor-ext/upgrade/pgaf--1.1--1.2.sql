-- pgaf 1.1 → 1.2: secure by default (issue #10, monitor half, and #11 item 5).
-- Only the delta from the released 1.1 (monitor-ext/released/pgaf--1.1.sql). A monitor
-- updated with this script must end up with the catalog of a fresh 1.2
-- (test/monitor/extension-upgrade.test.ts compares them, function bodies included).
-- Whoever changes monitor SQL for 1.2 changes monitor-ext/sql/ AND adds the same delta here.
\echo Use "ALTER EXTENSION pgaf UPDATE TO '1.2'" to load this file. \quit
