// The keeper's SSL setup on its local Postgres: the self-signed certificate in PGDATA when the
// node's [ssl] section names one, and a changed setup put on disk online (certificate, ssl
// settings, our HBA records as host or hostssl, the sslmode of primary_conninfo; a reload, no
// restart).
import { selfSignedFiles, usesSelfSignedCert, type SslConfig } from '../../lib/ssl.js';
import { ensureSelfSignedCert } from '../../lib/ssl-files.js';
import type { NodeHba } from './node-hba.js';
import type { PgNode } from './node.js';
import type { NodeSettings } from './node-settings.js';

export class NodeSsl {
  constructor(
    private readonly node: PgNode,
    private readonly settings: NodeSettings,
    private readonly hba: NodeHba,
  ) {}

  /** The SSL setup from now on (a reload of the node's config); apply() puts it on disk. */
  set(ssl: SslConfig): void {
    this.node.ssl = ssl;
  }

  /** The self-signed certificate in PGDATA when the config names it and it is missing. */
  async ensureCert(): Promise<void> {
    const { node } = this;
    if (!usesSelfSignedCert(node.ssl, node.pgdata) || !node.hasData()) return;
    await ensureSelfSignedCert({ ...selfSignedFiles(node.pgdata), hostname: node.o.hostname ?? node.o.host, runAs: node.o.runAs, log: node.log });
  }

  /** The current SSL setup on disk, online. */
  async apply(): Promise<void> {
    await this.ensureCert();
    this.settings.writeSettings();
    this.hba.switchHostType();
    this.settings.rewriteStandbySsl();
    await this.node.reloadIfRunning();
  }
}
