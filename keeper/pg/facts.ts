// The local facts a keeper tick starts from: is Postgres up, in recovery, on which timeline
// and LSN, and how its pgaf standbys replicate (pg_stat_replication).
import type { ReplicationRow, ServingRow } from './local-sql.js';

export type SyncState = 'sync' | 'quorum' | 'potential' | 'async' | '';

export interface LocalFacts {
  running: boolean;
  inRecovery: boolean;
  timeline: number;
  lsn: string;
  /** The best sync_state among streaming pgaf standbys; '' when none streams. */
  syncState: SyncState;
  /**
   * pgaf standbys heard from within STANDBY_REPLY_FRESH_MS. A walsender whose standby went
   * silent (a partition) keeps its pg_stat_replication row until wal_sender_timeout: only a
   * fresh status reply (standbys send one every wal_receiver_status_interval, 1 s) proves contact.
   */
  standbysConnected: number;
  /** read-only mode and WAL receiver, for the HTTP endpoints (running servers only) */
  serving?: ServingRow;
}

/** a standby whose last status reply is older than this does not count as contact */
export const STANDBY_REPLY_FRESH_MS = 3_000;

const RANK: Record<Exclude<SyncState, ''>, number> = { sync: 4, quorum: 3, potential: 2, async: 1 };

/** The best sync_state of the streaming rows: sync > quorum > potential > async > ''. */
export function bestSyncState(rows: Array<Pick<ReplicationRow, 'state' | 'syncState'>>): SyncState {
  let best: SyncState = '';
  for (const r of rows) {
    if (r.state !== 'streaming') continue;
    const s = r.syncState as Exclude<SyncState, ''>;
    if (!(s in RANK)) continue;
    if (best === '' || RANK[s] > RANK[best]) best = s;
  }
  return best;
}

export interface FactsSource {
  isRunning(): Promise<boolean>;
  /** position and replication rows from the running server */
  queryFacts(): Promise<{ inRecovery: boolean; lsn: string; timeline: number; replication: ReplicationRow[]; serving?: ServingRow }>;
  /** what pg_control says while the server is down */
  stoppedFacts(): Promise<{ inRecovery: boolean; lsn: string; timeline: number }>;
}

/**
 * Facts of a running server come from SQL; those of a stopped one, or of one that does not
 * accept connections yet, from pg_control (the last checkpoint's LSN and timeline; in
 * recovery when standby.signal is there).
 */
export async function readFacts(src: FactsSource): Promise<LocalFacts> {
  if (!(await src.isRunning())) {
    const s = await src.stoppedFacts();
    return { running: false, ...s, syncState: '', standbysConnected: 0 };
  }
  let f: Awaited<ReturnType<FactsSource['queryFacts']>>;
  try {
    f = await src.queryFacts();
  } catch {
    // Up but not answering yet (starting, recovering): still running, facts from pg_control.
    const s = await src.stoppedFacts();
    return { running: true, ...s, syncState: '', standbysConnected: 0 };
  }
  return {
    running: true,
    inRecovery: f.inRecovery,
    timeline: f.timeline,
    lsn: f.lsn,
    syncState: bestSyncState(f.replication),
    standbysConnected: f.replication.filter((r) => r.replyAgeMs !== null && r.replyAgeMs <= STANDBY_REPLY_FRESH_MS).length,
    serving: f.serving,
  };
}
