// The node list of a node without a monitor (`do fsm nodes set <file>`), kept beside the state
// file as nodes.json in the original's format: a JSON array of
// {node_id, node_name, node_host, node_port, node_lsn, node_is_primary}, this node included.
// Parsing is pure; reading and writing are the two functions at the bottom.
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAs } from '../../lib/atomic-file.js';
import { BadArgs, BadState } from '../../lib/errors.js';
import { hostnameProblem, nodeNameProblem, WHAT } from '../../lib/identity.js';
import type { PeerNode } from '../fsm/context.js';
import { isLsn } from '../../lib/lsn.js';

export interface NodesFileEntry {
  node_id: number;
  node_name: string;
  node_host: string;
  node_port: number;
  node_lsn: string;
  node_is_primary: boolean;
}

export const NODES_FORMAT =
  'a JSON array of objects {node_id: integer, node_name: string, node_host: string, node_port: integer, node_lsn: "X/X", node_is_primary: boolean}';

function entryIssues(v: unknown, i: number): string[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`[${i}]: expected an object, found ${JSON.stringify(v)}`];
  const o = v as Record<string, unknown>;
  const out: string[] = [];
  const bad = (key: string, expected: string) => out.push(`[${i}].${key}: expected ${expected}, found ${o[key] === undefined ? 'nothing' : JSON.stringify(o[key])}`);
  if (!Number.isInteger(o.node_id) || (o.node_id as number) < 1) bad('node_id', 'an integer above 0');
  if (typeof o.node_name !== 'string' || nodeNameProblem(o.node_name)) bad('node_name', WHAT.nodeName);
  if (typeof o.node_host !== 'string' || hostnameProblem(o.node_host.trim())) bad('node_host', WHAT.hostname);
  if (!Number.isInteger(o.node_port) || (o.node_port as number) < 1 || (o.node_port as number) > 65535) bad('node_port', 'a port from 1 to 65535');
  if (!isLsn(o.node_lsn as string)) bad('node_lsn', 'an LSN like "0/3000060"');
  if (typeof o.node_is_primary !== 'boolean') bad('node_is_primary', 'true or false');
  return out;
}

/** Checks a nodes file's text; BadArgs names every problem (and `source`). */
export function parseNodesJson(text: string, source: string): NodesFileEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new BadArgs(`${source} is not JSON (${(err as Error).message}): expected ${NODES_FORMAT}`);
  }
  if (!Array.isArray(json)) throw new BadArgs(`${source} holds no JSON array: expected ${NODES_FORMAT}`);
  const issues = json.flatMap(entryIssues);
  if (issues.length) throw new BadArgs(`${source} has invalid nodes: ${issues.join('; ')}`, { hint: `expected ${NODES_FORMAT}` });
  const nodes = json as NodesFileEntry[];
  const ids = nodes.map((n) => n.node_id);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined) throw new BadArgs(`${source} lists node_id ${dup} twice`);
  const primaries = nodes.filter((n) => n.node_is_primary);
  if (primaries.length > 1) {
    throw new BadArgs(`${source} has ${primaries.length} nodes with node_is_primary true (${primaries.map((p) => p.node_id).join(', ')}): at most one`);
  }
  return nodes.map((n) => ({ ...n, node_host: n.node_host.trim(), node_lsn: n.node_lsn.trim() }));
}

export function toPeer(n: NodesFileEntry): PeerNode {
  return { nodeId: n.node_id, name: n.node_name, host: n.node_host, port: n.node_port, lsn: n.node_lsn, isPrimary: n.node_is_primary };
}

/** The nodes file, or undefined when there is none (the node list is unknown). */
export function readNodesFile(path: string): NodesFileEntry[] | undefined {
  if (!existsSync(path)) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new BadState(`cannot read the nodes file ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return parseNodesJson(text, path);
  } catch (err) {
    throw new BadState(`the nodes file is corrupt: ${(err as Error).message}`, { hint: 'pgaf do fsm nodes set <file>' });
  }
}

/** Written atomically beside the state file (temp file, fsync, rename, fsync of the directory). */
export function writeNodesFile(path: string, nodes: NodesFileEntry[]): void {
  writeFileAs(path, JSON.stringify(nodes, null, 2) + '\n', undefined, { mkdir: true, syncDir: true });
}
