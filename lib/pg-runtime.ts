// Imported before `pg`: pg 8 probes for Cloudflare Workers through `navigator.userAgent`, and
// where Node (20) has no `navigator` it constructs a fetch `Response` instead, which loads
// undici: about 10 MB of resident memory in every keeper for nothing. A navigator that says
// "Node.js" answers the probe.
const g = globalThis as { navigator?: { userAgent?: string } };
if (typeof g.navigator !== 'object' || g.navigator === null) {
  Object.defineProperty(globalThis, 'navigator', {
    value: { userAgent: `Node.js/${process.versions.node}` },
    configurable: true,
    writable: true,
  });
}

export {};
