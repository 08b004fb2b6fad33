import { Logger } from '@nestjs/common';
import type { RetentionSettings } from '@sluice/config';
import { withConnection, type ConnectionPool, type PartitionedTable } from '@sluice/db';
import type { PoolClient } from 'pg';
import type { AggregateExpiry, MaintenanceReport, PartitionChange, PartitionWork, Sweep, SweepResult, Sweeps } from './maintenance.types';

/** One key for the whole job: two replicas (or a replica and `sluice maintenance`) never run it at once. */
const JOB_LOCK_SQL = `SELECT pg_try_advisory_lock(hashtext('sluice.maintenance')) AS locked`;
const JOB_UNLOCK_SQL = `SELECT pg_advisory_unlock(hashtext('sluice.maintenance'))`;

/** Aggregate rows are deleted this many at a time, so no statement holds its locks for long. */
const AGGREGATE_BATCH = 10_000;

const HOUR_MS = 3_600_000;
const BUCKET_MS = { hour: HOUR_MS, day: 24 * HOUR_MS } as const;

/** Which retention period each sweep follows. */
const SWEEP_PERIODS: Record<keyof Sweeps, keyof RetentionSettings> = {
  processedFiles: 'processedMs',
  quarantinedFiles: 'quarantineMs',
  payloadBodies: 'payloadMs',
  ledgerRows: 'ledgerMs',
};

/** Time-partitioned tables that expire, and the period each follows (detections are raw data too, and refused late by it). */
const EXPIRING_TABLES: ReadonlyArray<[table: PartitionedTable, period: keyof RetentionSettings]> = [
  ['raw_sensor_data', 'rawMs'],
  ['detection_events', 'rawMs'],
  ['log_lines', 'logMs'],
];

/** A report of a run that has done nothing yet. */
export function emptyReport(trigger: MaintenanceReport['trigger'], dryRun: boolean, startedAt: Date): MaintenanceReport {
  const at = startedAt.toISOString();
  return { trigger, dryRun, startedAt: at, finishedAt: at, partitions: [], aggregates: [], sweeps: {}, defaultRows: {}, bytesReclaimed: 0, errors: {} };
}

export interface MaintenanceJobParts {
  db: ConnectionPool;
  retention: RetentionSettings;
  partitions: PartitionWork;
  sweeps: Sweeps;
  now?: () => Date;
}

/**
 * The partition and retention job: partitions ahead of the data, rows of the default partitions moved into
 * their own, then everything past its retention period removed: raw and log partitions dropped whole,
 * aggregate buckets, drop-folder files, stored bodies and ledger rows. A part that fails is reported and the
 * others still run. `dryRun` reports what would be done and changes nothing. Each real run is recorded in
 * `maintenance_runs`.
 */
export class MaintenanceJob {
  private readonly logger = new Logger(MaintenanceJob.name);
  private readonly now: () => Date;

  constructor(private readonly parts: MaintenanceJobParts) {
    this.now = parts.now ?? (() => new Date());
  }

  async run(opts: { dryRun: boolean; trigger: MaintenanceReport['trigger'] }): Promise<MaintenanceReport> {
    const startedAt = this.now();
    const report = emptyReport(opts.trigger, opts.dryRun, startedAt);
    await withConnection(this.parts.db, async (client) => {
      const [{ locked }] = (await client.query<{ locked: boolean }>(JOB_LOCK_SQL)).rows;
      if (!locked) {
        report.skipped = 'another run holds the maintenance lock';
        return;
      }
      try {
        await this.runParts(client, startedAt, opts.dryRun, report);
      } finally {
        await client.query(JOB_UNLOCK_SQL);
      }
    });
    report.finishedAt = this.now().toISOString();
    // A dry run changes nothing, not even this table.
    if (!report.skipped && !report.dryRun) await this.record(report, startedAt);
    return report;
  }

  private async runParts(client: PoolClient, now: Date, dryRun: boolean, report: MaintenanceReport): Promise<void> {
    const { partitions, retention, sweeps } = this.parts;
    const part = async <T>(name: string, work: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await work();
      } catch (e) {
        report.errors[name] = (e as Error).message;
        this.logger.error(`maintenance: ${name} failed: ${(e as Error).message}`);
        return undefined;
      }
    };
    const changes = (list: PartitionChange[] | undefined) => report.partitions.push(...(list ?? []));

    changes(await part('partitions ahead', () => partitions.ensureAhead(now, { dryRun })));
    changes(await part('default partitions', () => partitions.rehomeDefault({ dryRun })));
    for (const [table, period] of EXPIRING_TABLES) {
      const ms = retention[period];
      if (ms !== undefined) changes(await part(`${table} retention`, () => partitions.dropBefore(table, new Date(now.getTime() - ms), { dryRun })));
    }
    for (const [bucket, period] of [['hour', 'hourlyAggregateMs'], ['day', 'dailyAggregateMs']] as const) {
      const ms = retention[period];
      if (ms === undefined) continue;
      const expiry = await part(`${bucket} aggregates retention`, () => this.expireAggregates(client, bucket, new Date(now.getTime() - ms), dryRun));
      if (expiry) report.aggregates.push(expiry);
    }
    for (const name of Object.keys(SWEEP_PERIODS) as (keyof Sweeps)[]) {
      const sweep: Sweep | undefined = sweeps[name];
      const ms = retention[SWEEP_PERIODS[name]];
      if (!sweep || ms === undefined) continue;
      const horizon = new Date(now.getTime() - ms);
      const result: SweepResult | undefined = await part(name, () => sweep(horizon, { dryRun }));
      if (result) report.sweeps[name] = { ...result, horizon: horizon.toISOString() };
    }
    report.defaultRows = (await part('default rows', () => partitions.defaultRows())) ?? {};
    report.bytesReclaimed =
      report.partitions.filter((c) => c.action === 'drop').reduce((sum, c) => sum + (c.bytes ?? 0), 0) +
      Object.values(report.sweeps).reduce((sum, s) => sum + (s?.bytes ?? 0), 0);
  }

  /**
   * Removes the aggregate buckets that end at or before `horizon` (whole buckets only), in batches. The
   * readings they summarize may be gone already: aggregates are kept on their own horizon.
   */
  private async expireAggregates(client: PoolClient, bucket: 'hour' | 'day', horizon: Date, dryRun: boolean): Promise<AggregateExpiry> {
    const lastStart = new Date(horizon.getTime() - BUCKET_MS[bucket]);
    const expiry: AggregateExpiry = { bucket, horizon: horizon.toISOString(), rows: 0 };
    if (dryRun) {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM aggregated_metrics WHERE bucket = $1 AND bucket_start <= $2`, [bucket, lastStart]);
      expiry.rows = Number(rows[0].n);
      return expiry;
    }
    for (;;) {
      const { rowCount } = await client.query(
        `DELETE FROM aggregated_metrics WHERE ctid = ANY (ARRAY(
           SELECT ctid FROM aggregated_metrics WHERE bucket = $1 AND bucket_start <= $2 LIMIT ${AGGREGATE_BATCH}))`,
        [bucket, lastStart],
      );
      expiry.rows += rowCount ?? 0;
      if ((rowCount ?? 0) < AGGREGATE_BATCH) return expiry;
    }
  }

  private async record(report: MaintenanceReport, startedAt: Date): Promise<void> {
    const error = Object.keys(report.errors).length ? Object.entries(report.errors).map(([k, v]) => `${k}: ${v}`).join('; ') : null;
    await withConnection(this.parts.db, (client) =>
      client.query(
        `INSERT INTO maintenance_runs (started_at, finished_at, dry_run, trigger, bytes_reclaimed, report, error) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [startedAt, report.finishedAt, report.dryRun, report.trigger, report.bytesReclaimed, JSON.stringify(report), error],
      ),
    );
  }
}
