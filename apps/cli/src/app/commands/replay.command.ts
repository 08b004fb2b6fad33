import type { Command } from 'commander';
import type { CliContext } from '../cli-context';
import { CliError } from '../cli-error';
import { followLedger, renderSummary } from '../ledger-follower';
import { positiveInt, UUID } from '../options';
import { type CliIo, formatCount, renderTable } from '../output';
import { probePipeline } from '../pipeline-probe';
import { toApiTimestamp } from '../timestamps';

/** Why one file was not replayed, as the `why` column shows it. */
export interface ReplaySkipLine {
  id: string;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** The `why` of a skipped file: its code and a sentence; an expired file says when retention removed its bytes. */
export function skipReason(s: ReplaySkipLine): string {
  const expiredAt = s.details?.['expiredAt'];
  if (s.code === 'file_expired' && typeof expiredAt === 'string' && !Number.isNaN(Date.parse(expiredAt))) {
    const when = new Date(expiredAt).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC');
    return `file_expired: its bytes were removed by retention on ${when}; there is nothing left to replay`;
  }
  return `${s.code}: ${s.message}`;
}

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
    .argument('[ids...]', 'ledger ids of the files to replay (sluice why prints the command for one file)')
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
nothing already loaded is doubled. A file whose content is live again as another file is skipped, and so
is one whose bytes retention removed (file_expired: PROCESSED_RETENTION, QUARANTINE_RETENTION, PAYLOAD_RETENTION).

Examples:
  sluice replay --quarantined --since 2024-05-01T00:00:00Z
  sluice replay 3f2a6c1e-0c4e-4b8e-9a57-1d2c3b4a5f60`,
    )
    .action(async (ids: string[], opts: Options) => {
      const statuses = [...(opts.quarantined ? (['quarantined'] as const) : []), ...(opts.failed ? (['failed'] as const) : [])];
      if (statuses.length === 0 && ids.length === 0) throw CliError.usage('say what to replay: file ids, or --quarantined and/or --failed');
      const badId = ids.find((id) => !UUID.test(id));
      if (badId !== undefined) throw CliError.usage(`${JSON.stringify(badId)} is not a file id (a UUID: sluice why <name> prints it)`);
      const since = opts.since === undefined ? undefined : new Date(toApiTimestamp(opts.since, '--since'));
      const c = ctx();
      const [ds, js, announcer, drop] = [await c.db(), await c.jetstream(), await c.announcer(), await c.drop()];
      const [{ ReplayService, ReplayException }, { StoredPayloads }] = await Promise.all([import('@sluice/replay'), import('@sluice/loading')]);
      const replay = new ReplayService(ds, await c.ledger(), drop, announcer, new StoredPayloads(ds));
      const replayed: string[] = [];
      const skipped: ReplaySkipLine[] = [];
      for (const id of ids) {
        try {
          replayed.push((await replay.replay(id)).id);
        } catch (e) {
          if (!(e instanceof ReplayException)) throw e;
          skipped.push({ id, code: e.code, message: e.message, details: e.details });
        }
      }
      if (skipped.length) io.err.write(`skipped ${skipped.length} file(s):\n` + renderTable(['file', 'why'], skipped.map((s) => [s.id, skipReason(s)])) + '\n');
      for (const status of statuses) {
        const result = await replay.replayWhere({ status, since, limit: opts.limit });
        replayed.push(...result.replayed.map((r) => r.id));
        if (result.skipped.length) {
          io.err.write(`skipped ${result.skipped.length} ${status} file(s):\n`);
          io.err.write(renderTable(['file', 'why'], result.skipped.map((s) => [s.id, skipReason(s)])) + '\n');
        }
      }
      if (replayed.length === 0) {
        if (skipped.length) throw new CliError(`nothing replayed: ${skipped.map((s) => `${s.id}: ${s.code === 'file_expired' ? skipReason(s) : s.message}`).join('; ')}`);
        io.out.write(`nothing to replay (${statuses.join(', ')}${since ? ` since ${since.toISOString()}` : ''})\n`);
        return;
      }
      io.err.write(`replaying ${formatCount(replayed.length)} file(s)\n`);
      if (!opts.wait) {
        io.out.write(replayed.join('\n') + '\n');
        return;
      }
      if (!(await probePipeline(js)).processors) {
        throw new CliError(`${replayed.length} file(s) re-queued, but no processor is consuming; they load once one runs (npm start)`);
      }
      const followed = await followLedger(ds, replayed, io, { stallMs: 60000, onStall: async () => (await probePipeline(js)).processors });
      io.out.write(renderSummary(followed.tally));
      if (!followed.complete) throw new CliError('the processors stopped consuming before every replayed file finished; see sluice status');
      if ((followed.tally.byStatus['failed'] ?? 0) > 0) throw new CliError(`${followed.tally.byStatus['failed']} replayed file(s) failed; see sluice status`);
      if (skipped.length) throw new CliError(`${skipped.length} of the files named could not be replayed (listed above)`);
    });
}
