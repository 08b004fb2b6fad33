import type { Command } from 'commander';
import type { CliContext } from '../cli-context';
import { CliError } from '../cli-error';
import { followLedger, renderSummary } from '../ledger-follower';
import { positiveInt } from '../options';
import { type CliIo, formatCount, renderTable } from '../output';
import { probePipeline } from '../pipeline-probe';
import { toApiTimestamp } from '../timestamps';

interface Options {
  quarantined?: boolean;
  failed?: boolean;
  since?: string;
  limit: number;
  wait: boolean;
}

export function registerReplay(program: Command, ctx: () => CliContext, io: CliIo): void {
  program
    .command('replay')
    .description('Re-run quarantined (or failed) files, e.g. after widening METRIC_RANGES, and follow them to the end.')
    .option('--quarantined', 'replay files in quarantine')
    .option('--failed', 'replay files marked failed')
    .option('--since <iso>', 'only files that finished at or after this time (ISO-8601, UTC without an offset)')
    .option('--limit <n>', 'at most this many files of each status', positiveInt('--limit'), 1000)
    .option('--no-wait', 'enqueue and exit without following the files')
    .addHelpText(
      'after',
      `
Each file's bytes go back into processing/ (a small API payload's body stays in the database), its ledger
row is reset to queued and it is published again;
nothing already loaded is doubled. A file whose content is live again as another file is skipped.

Example:
  sluice replay --quarantined --since 2024-05-01T00:00:00Z`,
    )
    .action(async (opts: Options) => {
      const statuses = [...(opts.quarantined ? (['quarantined'] as const) : []), ...(opts.failed ? (['failed'] as const) : [])];
      if (statuses.length === 0) throw CliError.usage('say what to replay: --quarantined and/or --failed');
      const since = opts.since === undefined ? undefined : new Date(toApiTimestamp(opts.since, '--since'));
      const c = ctx();
      const [ds, js, drop] = [await c.db(), await c.jetstream(), await c.drop()];
      const [{ ReplayService }, { StoredPayloads }] = await Promise.all([import('@sluice/replay'), import('@sluice/loading')]);
      const replay = new ReplayService(ds, await c.ledger(), drop, js, new StoredPayloads(ds));
      const ids: string[] = [];
      for (const status of statuses) {
        const result = await replay.replayWhere({ status, since, limit: opts.limit });
        ids.push(...result.replayed.map((r) => r.id));
        if (result.skipped.length) {
          io.err.write(`skipped ${result.skipped.length} ${status} file(s):\n`);
          io.err.write(renderTable(['file', 'why'], result.skipped.map((s) => [s.id, `${s.code}: ${s.message}`])) + '\n');
        }
      }
      if (ids.length === 0) {
        io.out.write(`nothing to replay (${statuses.join(', ')}${since ? ` since ${since.toISOString()}` : ''})\n`);
        return;
      }
      io.err.write(`replaying ${formatCount(ids.length)} file(s)\n`);
      if (!opts.wait) {
        io.out.write(ids.join('\n') + '\n');
        return;
      }
      if (!(await probePipeline(js)).processors) {
        throw new CliError(`${ids.length} file(s) re-queued, but no processor is consuming; they load once one runs (npm start)`);
      }
      const followed = await followLedger(ds, ids, io, { stallMs: 60000, onStall: async () => (await probePipeline(js)).processors });
      io.out.write(renderSummary(followed.tally));
      if (!followed.complete) throw new CliError('the processors stopped consuming before every replayed file finished; see sluice status');
      if ((followed.tally.byStatus['failed'] ?? 0) > 0) throw new CliError(`${followed.tally.byStatus['failed']} replayed file(s) failed; see sluice status`);
    });
}
