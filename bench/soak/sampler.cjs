// bench/soak/sampler.cjs: preloaded into every pgaf Node process of a soak (NODE_OPTIONS
// --require) when PGAF_SOAK_SAMPLES names a directory. Every PGAF_SOAK_INTERVAL seconds it
// appends one JSON line to <dir>/<pid>.jsonl: process.memoryUsage() (rss, heapTotal, heapUsed,
// external, arrayBuffers), the V8 heap spaces' committed and used sizes (code space apart), the
// malloc'd memory V8 knows of, and the active handles by type (process.getActiveResourcesInfo).
// Splits a process's resident memory into V8 heap, code, buffers and the rest (Node, libuv,
// glibc malloc), which /proc alone cannot. The timer is unref'd: it never keeps a process up.
'use strict';
const dir = process.env.PGAF_SOAK_SAMPLES;
if (dir) {
  const { appendFileSync } = require('node:fs');
  const { join } = require('node:path');
  const v8 = require('node:v8');
  const every = Number(process.env.PGAF_SOAK_INTERVAL || 60) * 1000;
  const file = join(dir, `${process.pid}.jsonl`);
  const t0 = Date.now();
  const sample = () => {
    const m = process.memoryUsage();
    const spaces = {};
    for (const s of v8.getHeapSpaceStatistics()) spaces[s.space_name] = [s.space_size, s.space_used_size];
    const h = v8.getHeapStatistics();
    const handles = {};
    for (const r of process.getActiveResourcesInfo()) handles[r] = (handles[r] || 0) + 1;
    const line = {
      t: Math.round((Date.now() - t0) / 1000),
      pid: process.pid,
      argv: process.argv.slice(2).join(' ').slice(0, 60),
      rss: m.rss,
      heapTotal: m.heapTotal,
      heapUsed: m.heapUsed,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      mallocedMemory: h.malloced_memory,
      peakMallocedMemory: h.peak_malloced_memory,
      spaces,
      handles,
    };
    try {
      appendFileSync(file, JSON.stringify(line) + '\n');
    } catch {
      /* the scratch directory is gone: the soak is over */
    }
  };
  setTimeout(sample, 1000).unref();
  setInterval(sample, every).unref();
}
