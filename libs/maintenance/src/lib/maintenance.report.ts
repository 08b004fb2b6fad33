import { formatBytes } from '@sluice/config';
import type { MaintenanceReport, PartitionChange, Sweeps } from './maintenance.types';

const day = (d: Date | string | null) => (d === null ? '…' : new Date(d).toISOString().replace(/T00:00:00\.000Z$/, '').replace('.000Z', 'Z'));

const VERBS: Record<PartitionChange['action'], [done: string, dry: string]> = {
  create: ['created', 'would create'],
  move: ['moved rows into', 'would move rows into'],
  drop: ['dropped', 'would drop'],
};

const SWEEP_LABELS: Record<keyof Sweeps, [what: string, unit: string]> = {
  processedFiles: ['processed/', 'files'],
  quarantinedFiles: ['quarantine/', 'files'],
  payloadBodies: ['stored bodies', 'bodies'],
  ledgerRows: ['ledger rows', 'rows'],
};

/** The report as a person reads it: one line per change, then what was reclaimed. */
export function formatMaintenanceReport(r: MaintenanceReport): string[] {
  if (r.skipped) return [`maintenance skipped: ${r.skipped}`];
  const would = r.dryRun ? 1 : 0;
  const lines: string[] = [r.dryRun ? 'maintenance dry run: nothing was changed' : 'maintenance run'];
  for (const c of r.partitions) {
    const size = c.bytes !== undefined ? `, ${formatBytes(c.bytes)}` : '';
    const rows = c.rows !== undefined ? `, ${c.rows} rows` : '';
    const range = `${c.name} [${day(c.from)}, ${day(c.to)})`;
    // Not done now (a load held its lock): tried again next run.
    if (c.skipped) lines.push(`  partition ${range} left for the next run (${c.skipped})${rows}${size}`);
    else lines.push(`  partition ${VERBS[c.action][would]} ${range}${rows}${size}`);
  }
  if (!r.partitions.length) lines.push('  partitions: nothing to do');
  for (const a of r.aggregates) lines.push(`  ${a.bucket === 'hour' ? 'hourly' : 'daily'} aggregates before ${a.horizon}: ${a.rows} rows ${r.dryRun ? 'would be removed' : 'removed'}`);
  for (const [name, s] of Object.entries(r.sweeps) as [keyof Sweeps, NonNullable<MaintenanceReport['sweeps'][keyof Sweeps]>][]) {
    const [what, unit] = SWEEP_LABELS[name];
    const examples = s.examples.length ? ` (${s.examples.slice(0, 3).join(', ')}${s.items > 3 ? ', …' : ''})` : '';
    lines.push(`  ${what} before ${s.horizon}: ${s.items} ${unit}, ${formatBytes(s.bytes)} ${r.dryRun ? 'would be removed' : 'removed'}${examples}`);
  }
  const waiting = Object.entries(r.defaultRows).filter(([, n]) => (n ?? 0) > 0);
  for (const [table, n] of waiting) lines.push(`  ${table}: ${n} rows in the default partition`);
  for (const [name, message] of Object.entries(r.errors)) lines.push(`  FAILED ${name}: ${message}`);
  lines.push(`${r.dryRun ? 'would reclaim' : 'reclaimed'} ${formatBytes(r.bytesReclaimed)}`);
  return lines;
}
