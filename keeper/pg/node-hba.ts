// The keeper's writes to its pg_hba.conf, all through lib/hba-file.ts: the rules its peers and
// the monitor's health check need (hosts screened first: a host that is not a host name or an
// address gets no rule and one warning naming the node), our users' records switched to
// host or hostssl, and this node's own file put back after a copy of another node. Rules are
// only appended; hba_level skip writes nothing.
import { existsSync, readFileSync } from 'node:fs';
import { addHbaRules, hbaFileOf, restoreHbaFile, switchHbaRules } from '../../lib/hba-file.js';
import { hbaHostType } from '../../lib/ssl.js';
import type { PeerNode } from '../fsm/context.js';
import { desiredHbaLines, planHba, screenHbaHosts } from './hba-plan.js';
import { HEALTH_CHECK_USER, REPLICATION_USER } from './names.js';
import type { PgNode } from './node.js';

export class NodeHba {
  /** the peers of the last reconcile, for a rewrite after configure() or an SSL switch */
  peers: PeerNode[] = [];
  /** the refusals logRefusedHosts said last */
  private refusedHostsLogged = '';

  constructor(private readonly node: PgNode) {}

  private get path(): string {
    return hbaFileOf(this.node.pgdata);
  }

  /** We edit the file: hba_level is not skip and initdb wrote one. */
  private edited(): boolean {
    return this.node.o.hbaLevel !== 'skip' && existsSync(this.path);
  }

  /** Appends the missing rules for `peers` (the last ones when not given); returns how many. */
  reconcile(peers: PeerNode[] = this.peers): number {
    this.peers = peers;
    if (!this.edited()) return 0;
    const { o } = this.node;
    const others = peers.filter((p) => p.nodeId !== o.nodeId);
    this.logRefusedHosts(others);
    const desired = desiredHbaLines({
      peerHosts: others.map((p) => p.host),
      monitorHost: o.monitorHost,
      authMethod: o.authMethod,
      hbaLevel: o.hbaLevel,
      hostType: hbaHostType(this.node.ssl),
      extra: [...(o.extraHbaLines ?? []), ...(o.testTrustLines ?? [])],
    });
    // planned on a plain read first: nothing to add, nothing written (nor read without following)
    const created = planHba(readFileSync(this.path, 'utf8'), desired).filter((s) => s.kind === 'create').map((s) => s.line);
    if (!created.length) return 0;
    addHbaRules(this.path, created, o.runAs);
    this.node.log.info(`Added ${created.length} line(s) to pg_hba.conf`, { lines: created.join('; ') });
    return created.length;
  }

  /** Our users' records as host or hostssl, as the SSL setup says, then the missing rules. */
  switchHostType(): void {
    if (!this.edited()) return;
    const type = hbaHostType(this.node.ssl);
    if (switchHbaRules(this.path, [REPLICATION_USER, HEALTH_CHECK_USER], type, this.node.o.runAs)) {
      this.node.log.info(`Switched the HBA rules of ${REPLICATION_USER} and ${HEALTH_CHECK_USER} to ${type}`);
    }
    this.reconcile();
  }

  /** This node's own file put back (its text read before a copy brought the source's). */
  restore(text: string): void {
    restoreHbaFile(this.path, text, this.node.o.runAs);
  }

  /**
   * One warning per peer (or monitor) whose host the keeper will not put in pg_hba.conf, said
   * again only when the set of refused hosts changes (not every tick).
   */
  private logRefusedHosts(others: PeerNode[]): void {
    const sentences: string[] = [];
    for (const r of screenHbaHosts(others.map((p) => p.host)).refused) {
      for (const p of others.filter((o) => o.host === r.host)) {
        sentences.push(`Refusing to write an HBA rule for node ${p.nodeId} ${JSON.stringify(p.name)}: its host ${JSON.stringify(r.host)} is not a host name or an address (${r.problem})`);
      }
    }
    const { monitorHost } = this.node.o;
    for (const r of screenHbaHosts(monitorHost === undefined ? [] : [monitorHost]).refused) {
      sentences.push(`Refusing to write an HBA rule for the monitor: its host ${JSON.stringify(r.host)} is not a host name or an address (${r.problem})`);
    }
    const key = sentences.join('\n');
    if (key === this.refusedHostsLogged) return;
    this.refusedHostsLogged = key;
    for (const s of sentences) this.node.log.warn(s);
  }
}
