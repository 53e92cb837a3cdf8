-- pgbench script: one keeper heartbeat, node_active() for a random registered node
-- reporting the steady state it already converged to (so no goal state changes).
-- run.mjs registers formations f1..f(N/2) with two nodes each, in order, so node
-- 2k-1 (odd) is the primary of formation fk and node 2k (even) its secondary; it
-- checks that layout before every measurement. Pass -D nodes=N.
-- The reported values (TLI 1, LSN 0/3000000, rep state 'quorum' / '') are the ones
-- run.mjs uses to bring the pairs to steady state: keep both in step.
\set id random(1, :nodes)
\set f (:id + 1) / 2
\if :id % 2 = 1
SELECT * FROM pgautofailover.node_active('f' || :f, :id, 0, 'primary', true, 1, '0/3000000', 'quorum');
\else
SELECT * FROM pgautofailover.node_active('f' || :f, :id, 0, 'secondary', true, 1, '0/3000000', '');
\endif
