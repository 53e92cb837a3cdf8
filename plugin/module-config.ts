// Where the PM2 module finds its cluster file: `pm2 set pm2-pgaf:config <path>` arrives as
// $config and inside the JSON of $pm2-pgaf; ecosystem files use $PGAF_CONFIG or --config.
export const MODULE_NAME = 'pm2-pgaf';

/** The cluster file named by the module setting `config`, or by $PGAF_CONFIG / --config. */
export function configPathFrom(env: NodeJS.ProcessEnv, argv: string[]): string | undefined {
  const i = argv.indexOf('--config');
  if (i >= 0 && argv[i + 1]) return argv[i + 1];
  if (env.PGAF_CONFIG) return env.PGAF_CONFIG;
  const modConf = env[MODULE_NAME];
  if (modConf) {
    try {
      const c = JSON.parse(modConf) as { config?: unknown };
      if (typeof c.config === 'string' && c.config !== '') return c.config;
    } catch {
      // not JSON: fall back to the single variable
    }
  }
  return env.config || undefined;
}
