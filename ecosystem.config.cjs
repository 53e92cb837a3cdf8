// A monitor and two data nodes from this checkout under PM2, for people who do not install
// the module:  npm ci && npm run build && pm2 start ecosystem.config.cjs
// Each app is dist/plugin/module.js (the module's process) with its node given through the
// environment; Postgres runs as the PM2 apps pgaf-postgres-<node>. Data goes to $PGAF_DEMO_DIR
// (default /tmp/pgaf-pm2-demo), ports 5600 (monitor), 5601, 5602.
// Secure defaults: scram-sha-256 and TLS (self-signed). autoctl_node's password is generated
// here once into $PGAF_DEMO_DIR/autoctl_node.password (mode 0600); the monitor sets it and
// the nodes use it through monitor.password_file. Only that file's path is in the apps'
// environment (and so in `pm2 save`), never the password.
//   pm2 logs                       keeper sentences and Postgres logs
//   pm2 show pgaf-node1            node state, goal state, replication lag, last monitor contact
//   pm2 trigger pgaf-node1 status | switchover | maintenance-on | maintenance-off
//   pm2 delete ecosystem.config.cjs   stops the keepers; Postgres keeps running
//   pm2 delete all                 also stops the Postgres apps
const { chownSync, existsSync, mkdirSync, writeFileSync } = require('node:fs');
const { randomBytes } = require('node:crypto');
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

const dir = process.env.PGAF_DEMO_DIR || '/tmp/pgaf-pm2-demo';
mkdirSync(dir, { recursive: true, mode: 0o755 });
// Postgres refuses to run as root: as root, the data directories belong to `postgres`
if (process.getuid && process.getuid() === 0) {
  const [, , uid, gid] = execFileSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' }).trim().split(':');
  chownSync(dir, Number(uid), Number(gid));
}

const config = join(__dirname, 'examples', 'pm2', 'pgaf.config.yaml');
const passwordFile = join(dir, 'autoctl_node.password');
if (!existsSync(passwordFile)) writeFileSync(passwordFile, randomBytes(24).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });

function app(name, role, port) {
  return {
    name: `pgaf-${name}`,
    script: join(__dirname, 'dist', 'plugin', 'module.js'),
    node_args: '--max-semi-space-size=1 --optimize-for-size', // the flags of the pgaf shebang: flat, smaller memory (cli/main.ts)
    cwd: __dirname,
    kill_timeout: 5000,
    max_memory_restart: '300M',
    merge_logs: true,
    env: {
      // the malloc settings of the pgaf shebang (lib/service-env.ts): 1-2 MB less at rest
      MALLOC_ARENA_MAX: '1',
      MALLOC_TRIM_THRESHOLD_: '65536',
      MALLOC_TOP_PAD_: '0',
      PGAF_CONFIG: config,
      PGAF_NODE_ROLE: role,
      PGAF_NODE_NAME: name,
      PGAF_NODE_PGDATA: join(dir, name),
      PGAF_NODE_PORT: String(port),
      PGAF_NODE_SOCKET_DIR: dir,
      PGAF_MONITOR_PASSWORD_FILE: passwordFile,
    },
  };
}

module.exports = {
  apps: [app('monitor', 'monitor', 5600), app('node1', 'postgres', 5601), app('node2', 'postgres', 5602)],
};
