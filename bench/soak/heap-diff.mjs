#!/usr/bin/env node
// bench/soak/heap-diff.mjs A.heapsnapshot B.heapsnapshot [N]: what grew between two V8 heap
// snapshots of one process (taken with `node --heapsnapshot-signal=SIGUSR2`, see
// bench/soak/run.sh HEAP_SNAPSHOTS): object count and self size per constructor, the N (20)
// largest growths by size.
import { readFileSync } from 'node:fs';

function summary(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const f = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [ti, ni, si] = ['type', 'name', 'self_size'].map((k) => f.indexOf(k));
  const by = new Map();
  const nodes = snap.nodes;
  let total = 0;
  for (let i = 0; i < nodes.length; i += f.length) {
    const type = types[nodes[i + ti]];
    const name = type === 'object' || type === 'native' ? snap.strings[nodes[i + ni]] : `(${type})`;
    const e = by.get(name) ?? { n: 0, size: 0 };
    e.n += 1;
    e.size += nodes[i + si];
    total += nodes[i + si];
    by.set(name, e);
  }
  return { by, total };
}

const [a, b, top = '20'] = process.argv.slice(2);
if (!a || !b) {
  console.error('usage: heap-diff.mjs A.heapsnapshot B.heapsnapshot [N]');
  process.exit(2);
}
const A = summary(a);
const B = summary(b);
console.log(`total self size: ${(A.total / 1024).toFixed(0)} kB -> ${(B.total / 1024).toFixed(0)} kB (${((B.total - A.total) / 1024).toFixed(0)} kB)`);
const rows = [...new Set([...A.by.keys(), ...B.by.keys()])].map((k) => {
  const x = A.by.get(k) ?? { n: 0, size: 0 };
  const y = B.by.get(k) ?? { n: 0, size: 0 };
  return { k, dn: y.n - x.n, ds: y.size - x.size, n: y.n };
});
rows.sort((p, q) => q.ds - p.ds);
for (const r of rows.slice(0, Number(top))) {
  console.log(`${(r.ds / 1024).toFixed(1).padStart(9)} kB ${String(r.dn).padStart(7)} objects (now ${r.n})  ${r.k.slice(0, 80)}`);
}
