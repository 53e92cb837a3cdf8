// The service path (`run`, `create postgres … --run`, a plain `create monitor`): what cli/main.ts
// loads for those commands, bundled with its modules and pg into dist/cli/service.bundle.cjs by
// bin/bundle-cli.mjs and compiled with a code cache (cli/fast-load.ts loadBundle). Each command's
// modules stay behind an import() (a function in the bundle that runs on the first call): a
// keeper evaluates neither the monitor service nor the creation code of a monitor, as before
// (test/unit/keeper-lean-imports.test.ts).
export const loadRun = () => import('./run.js');
export const loadCreatePostgres = () => import('./create-postgres.js');
export const loadCreateMonitor = () => import('./create-monitor.js');
