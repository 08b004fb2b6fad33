import type { Command } from 'commander';
import type { CliContext } from '../cli-context';
import { CliError } from '../cli-error';
import { type CliIo, escapeControls } from '../output';

interface Options {
  dryRun?: boolean;
  json?: boolean;
}

export function registerMaintenance(program: Command, ctx: () => CliContext, io: CliIo): void {
  program
    .command('maintenance')
    .description('Run the partition and retention job once (the watcher runs it at MAINTENANCE_CRON) and print what it did.')
    .option('--dry-run', 'print what it would do, change nothing')
    .option('--json', 'print the report as one JSON object')
    .addHelpText(
      'after',
      `
It makes the time partitions ahead of the data, moves rows out of the default partitions, and removes what
is past its retention period: RAW_RETENTION and LOG_RETENTION drop whole partitions, HOURLY_ and
DAILY_AGGREGATE_RETENTION remove aggregate buckets, PROCESSED_ and QUARANTINE_RETENTION remove drop-folder
files, PAYLOAD_RETENTION stored API bodies, LEDGER_RETENTION ledger rows. Unset periods keep everything.
A run while another holds the job's lock (a watcher replica) does nothing and says so. Exit 1 if a part failed.

Examples:
  RAW_RETENTION=90d sluice maintenance --dry-run
  sluice maintenance --json`,
    )
    .action(async (opts: Options) => {
      const job = await ctx().maintenance();
      const { formatMaintenanceReport } = await import('@sluice/maintenance');
      const report = await job.run({ dryRun: opts.dryRun === true, trigger: 'cli' });
      io.out.write(opts.json ? `${JSON.stringify(report)}\n` : formatMaintenanceReport(report).map((l) => `${escapeControls(l)}\n`).join(''));
      const failed = Object.keys(report.errors);
      if (failed.length) throw new CliError(`maintenance: ${failed.length} part(s) failed: ${failed.join(', ')}`);
    });
}
