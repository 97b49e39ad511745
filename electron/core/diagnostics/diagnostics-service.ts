/** Diagnostics reports: runs them for a host of the inventory, stores them and lists them per host. */
import { and, desc, eq, notInArray } from 'drizzle-orm';
import { performance } from 'node:perf_hooks';
import type { DiagnosticReport } from '../../shared/api';
import { CroniumError } from '../../shared/errors';
import type { DataStore } from '../db/store';
import type { SshPool, SshTarget } from '../ssh/types';
import { recordSftpUnavailable } from '../runner/deploy';
import { diagnoseTarget, type DiagnoseOptions, type RecordedDeployment } from './diagnose';

/** Reports kept per host: enough history to compare, bounded so 1,000 hosts stay small. */
export const REPORTS_KEPT = 20;

/** What the service needs from the rest of the core. */
export interface DiagnosticsDeps {
  store: DataStore;
  /** The SSH pool: a diagnosis uses the host's pooled connection. */
  pool: SshPool;
  /** Resolves a host of the inventory (NOT_FOUND when there is none) to its target, jump chain included. */
  resolve: (name: string) => Promise<SshTarget>;
  /** This machine's side (data dir, key files, runner artifacts), checked with every host. */
  local?: DiagnoseOptions['local'];
  /** The host's elevation setting and what it needs (host-service elevationFor). */
  elevation?: (name: string) => Promise<DiagnoseOptions['elevation']>;
  /** Tuning for tests. */
  options?: Pick<DiagnoseOptions, 'lookup' | 'probeTimeoutMs' | 'stepTimeoutMs'>;
}

/** Runs, stores and lists diagnostics reports. */
export class DiagnosticsService {
  constructor(private readonly deps: DiagnosticsDeps) {}

  /** Diagnoses a host and stores the report; an unreachable host yields a report with failed checks. */
  async diagnose(name: string): Promise<DiagnosticReport> {
    const hostId = await this.hostId(name);
    const target = await this.deps.resolve(name);
    const startedAt = Date.now();
    const t0 = performance.now();
    const { status, checks } = await diagnoseTarget(target, {
      ...this.deps.options,
      pool: this.deps.pool,
      deployment: await this.deployment(hostId),
      hostName: name,
      ...(this.deps.local ? { local: this.deps.local } : {}),
      ...(this.deps.elevation ? { elevation: await this.deps.elevation(name) } : {}),
    });
    const durationMs = Math.round(performance.now() - t0);
    const report: DiagnosticReport = { host: name, startedAt, durationMs, status, checks };
    // What SFTP looked like now is what later runner deploys go by (available: true, false, or null when not checked).
    const sftp = checks.find((c) => c.id === 'sftp')?.data as { available?: boolean | null; error?: string } | undefined;
    if (sftp?.available === true) await recordSftpUnavailable(this.deps.store, name, null);
    else if (sftp?.available === false) await recordSftpUnavailable(this.deps.store, name, sftp.error ?? 'SFTP is not available');
    const { diagnostics } = this.deps.store.schema;
    const row = await this.deps.store.tx(async (tx) => {
      const [inserted] = await tx.insert(diagnostics).values({ hostId, status, report, durationMs, createdAt: startedAt }).returning({ id: diagnostics.id });
      const keep = tx
        .select({ id: diagnostics.id })
        .from(diagnostics)
        .where(eq(diagnostics.hostId, hostId))
        .orderBy(desc(diagnostics.createdAt), desc(diagnostics.id))
        .limit(REPORTS_KEPT);
      await tx.delete(diagnostics).where(and(eq(diagnostics.hostId, hostId), notInArray(diagnostics.id, keep)));
      return inserted!;
    });
    return { id: row.id, ...report };
  }

  /** Stored reports of a host, newest first (the newest REPORTS_KEPT are kept). */
  async list(name: string, limit: number): Promise<DiagnosticReport[]> {
    const hostId = await this.hostId(name);
    const { diagnostics } = this.deps.store.schema;
    return (await this.deps.store.db.select().from(diagnostics).where(eq(diagnostics.hostId, hostId)).orderBy(desc(diagnostics.createdAt), desc(diagnostics.id)).limit(limit)).map((row) => ({ id: row.id, ...(row.report as DiagnosticReport) }));
  }

  private async hostId(name: string): Promise<number> {
    const { hosts } = this.deps.store.schema;
    const [host] = await this.deps.store.db.select({ id: hosts.id }).from(hosts).where(eq(hosts.name, name));
    if (!host) throw new CroniumError('NOT_FOUND', `no host named "${name}"`, 'list the hosts with: cronium hosts list');
    return host.id;
  }

  /** The newest deployment recorded for the host. */
  private async deployment(hostId: number): Promise<RecordedDeployment | undefined> {
    const { runnerDeployments } = this.deps.store.schema;
    const [row] = await this.deps.store.db
      .select()
      .from(runnerDeployments)
      .where(eq(runnerDeployments.hostId, hostId))
      .orderBy(desc(runnerDeployments.updatedAt), desc(runnerDeployments.id))
      .limit(1);
    return row ? { version: row.version, target: row.target, path: row.path, sha256: row.sha256, status: row.status, error: row.error } : undefined;
  }
}
