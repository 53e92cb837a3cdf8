// bench/cli/floor.cjs -- what any Node program pays to ask the monitor one question, for the
// floor rows of bench/cli/run.sh. `node floor.cjs tls HOST PORT`: a TLS handshake with the
// monitor (SSLRequest, then tls.connect; sslmode=require) and nothing else. `node floor.cjs pg
// HOST PORT`: node-postgres (this tree's node_modules/pg, unbundled) connects as autoctl_node
// with TLS and scram-sha-256 (password from $PGPASSFILE's first line), runs one SELECT of
// pgautofailover.current_state and disconnects: the least a pg-based `show state` can cost.
// Both with `ca: []`, as pgaf's sslmode=require: no root store to load for a context that verifies
// nothing (Node parses its ~140 root certificates otherwise: 25-30 ms of CPU).
const [mode, host, port] = process.argv.slice(2);
if (mode === 'tls') {
  const net = require('node:net');
  const tls = require('node:tls');
  const s = net.connect(Number(port), host, () => {
    const b = Buffer.alloc(8);
    b.writeInt32BE(8);
    b.writeInt32BE(80877103, 4); // SSLRequest
    s.write(b);
    s.once('data', () => {
      const t = tls.connect({ socket: s, rejectUnauthorized: false, ca: [] }, () => t.end());
    });
  });
} else {
  const { Client } = require(require('node:path').join(__dirname, '../../node_modules/pg'));
  const password = require('node:fs').readFileSync(process.env.PGPASSFILE, 'utf8').split('\n')[0].split(':').slice(4).join(':');
  const c = new Client({ host, port: Number(port), user: 'autoctl_node', database: 'pg_auto_failover', password, ssl: { rejectUnauthorized: false, ca: [] } });
  c.connect()
    .then(() => c.query("SELECT * FROM pgautofailover.current_state('default')"))
    .then((r) => {
      process.stdout.write(`${r.rows.length} rows\n`);
      return c.end();
    });
}
