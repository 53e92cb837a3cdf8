import { startPostgres } from '../support/postgres.js';
import pg from 'pg';
const s = await startPostgres({ conf: [`shared_preload_libraries='pgautofailover'`, `pgautofailover.enable_health_checks=off`, `pgautofailover.startup_grace_period=0`] });
try {
  await s.query('create database pg_auto_failover');
  await s.query('create extension pgautofailover cascade', [], 'pg_auto_failover');
  const c = new pg.Client({ connectionString: s.url('pg_auto_failover') });
  await c.connect();
  const q = async (sql: string, p: any[] = []) => (await c.query(sql, p)).rows;
  const reg = async (port: number, prio = 100) => (await q(`select * from pgautofailover.register_node('default','127.0.0.1',$1,'postgres','',424242,-1,-1,'init','standalone',$2,true,'default')`, [port, prio]))[0];
  const act = async (id: number, role: string, lsn = '0/3000000', running = true, tli = 1) => { const r = (await q(`select * from pgautofailover.node_active('default',$1,0,$2,$3,$4,$5,'')`, [id, role, running, tli, lsn]))[0]; console.log(`active(${id}, ${role}) -> ${r.assigned_group_state}`); return r.assigned_group_state; };
  const show = async () => console.log((await q(`select nodeid, reportedstate, goalstate, health from pgautofailover.node order by 1`)).map((r:any)=>`${r.nodeid}:${r.reportedstate}/${r.goalstate}`).join(' '));
  const script = process.argv[2]!;
  const fn = new Function('q','reg','act','show', `return (async () => { ${script} })()`);
  await fn(q, reg, act, show);
  for (const e of await q(`select nodeid, reportedstate, goalstate, description from pgautofailover.event order by eventid`)) console.log(`  ev ${e.nodeid} ${e.reportedstate}->${e.goalstate}: ${e.description}`);
  await c.end();
} finally { await s.stop(); }
