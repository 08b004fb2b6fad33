import { randomUUID } from 'node:crypto';
import { realpath, stat } from 'node:fs/promises';
import { relative, resolve, sep } from 'node:path';
import type { Command } from 'commander';
import { FileSubjects, totalRows } from '@sluice/contracts';
import type { SourceFile } from '../backfill/source-files';
import type { CliContext } from '../cli-context';
import { CliError } from '../cli-error';
import { followLedger, renderSummary } from '../ledger-follower';
import { positiveInt } from '../options';
import { type CliIo, escapeControls, formatCount } from '../output';
import { probePipeline } from '../pipeline-probe';
import { enqueueBucket, parseS3Url, sourceFor, type S3Location } from '../backfill/s3-objects';
import type { JetStreamService } from '@sluice/messaging';

/** Files copied, registered and published at the same time. */
const ENQUEUE_CONCURRENCY = 4;

interface Options {
  stallSeconds: number;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const isInside = (parent: string, child: string) => {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith('/'));
};

export function registerBackfill(program: Command, ctx: () => CliContext, io: CliIo): void {
  program
    .command('backfill')
    .description('Load every file under DIR through the pipeline, then follow it to the end with a progress bar and a summary.')
    .argument('<dir>', 'folder to load (walked recursively; symlinks are not followed), or s3://bucket/prefix of a source in S3_SOURCES')
    .option('--stall-seconds <n>', 'give up when nothing has moved for this long and no processor is consuming', positiveInt('--stall-seconds'), 60)
    .addHelpText(
      'after',
      `
Each file is enqueued the way the watcher claims one: copied into DROPZONE_DIR/processing/ under a new
ledger id, registered in the ledger (content already loaded is recorded as a duplicate) and published
for the processors. DIR itself is left untouched. The processors must be running (npm start); the
watcher moves the files to processed/ or quarantine/ as they finish.

Exit code 0 when every file reached a final state (quarantined files included: see the summary),
1 when a file failed or nothing consumed the queue.

s3://bucket/prefix claims every object under the prefix the way the watcher does (one ledger row per object
version; a version the watcher already claimed is not enqueued again), through the source of S3_SOURCES
(or MINIO_*) that reads the bucket; the processors must have the same source.

Examples:
  sluice backfill ../shared/fixtures/seeds/realtime-pipeline
  sluice backfill s3://sensor-data/timeseries/`,
    )
    .action(async (dirArg: string, opts: Options) => {
      const c = ctx();
      const bucket = parseS3Url(dirArg);
      const ids = bucket ? await enqueueObjects(c, bucket, io) : await enqueueFolder(c, dirArg, io);
      if (!ids) return;
      const [ds, js] = [await c.db(), await c.jetstream()];

      let stallNoted = false;
      const followed = await followLedger(ds, ids, io, {
        stallMs: opts.stallSeconds * 1000,
        onStall: async () => {
          const now = await probePipeline(js);
          if (now.processors) return true;
          if (stallNoted) return false;
          stallNoted = true;
          io.err.write(`\nnothing is consuming the queue: are the processors running? waiting ${opts.stallSeconds} s more\n`);
          return true;
        },
      });
      const sensors: { n: number }[] = await ds.query(`SELECT count(DISTINCT sensor_id)::int AS n FROM raw_sensor_data WHERE file_id = ANY($1::uuid[])`, [ids]);
      const seconds = followed.ms / 1000;
      const perSecond = (n: number) => formatCount(Math.round(n / Math.max(seconds, 0.001)));
      const allRows = totalRows(followed.tally.rowsWrittenByTable);
      io.out.write(
        renderSummary(followed.tally, [
          ['sensors', formatCount(sensors[0]?.n ?? 0)],
          ['time', `${seconds.toFixed(1)} s`],
          ['readings/s', perSecond(followed.tally.readingsLoaded)],
          // Readings are not every row: with rows of other tables, the rate of them all too.
          ...(allRows > followed.tally.readingsLoaded ? [['rows/s', perSecond(allRows)] as [string, string]] : []),
        ]),
      );
      if (!followed.complete) {
        throw new CliError(`${formatCount(ids.length - followed.tally.terminal)} files are still waiting and nothing consumes them; they stay registered and load once a processor runs (sluice status)`);
      }
      const failed = followed.tally.byStatus['failed'] ?? 0;
      if (failed > 0) throw new CliError(`${failed} file(s) failed; see sluice status`);
    });
}

/** Copies every file under the folder into processing/, registers and publishes it; null when there is nothing to load. */
async function enqueueFolder(c: CliContext, dirArg: string, io: CliIo): Promise<string[] | null> {
  const dir = resolve(dirArg);
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw CliError.usage(`${dirArg} is not a folder`);
  const drop = await c.drop();
  if (isInside(await realpath(drop.root), await realpath(dir))) {
    throw CliError.usage(`${dirArg} is inside the drop folder (${drop.root}); the watcher loads files there by itself`);
  }

  const { copyIntoProcessing, walkFolder } = await import('../backfill/source-files');
  const walked = await walkFolder(dir);
  for (const s of walked.skipped) io.err.write(`skipped ${escapeControls(s.rel)}: ${escapeControls(s.why)}\n`);
  if (walked.files.length === 0) {
    io.out.write(`no files to load under ${escapeControls(dirArg)}${walked.ignored ? ` (${walked.ignored} ignored: dotfiles or partial names)` : ''}\n`);
    return null;
  }

  const js = await requireProcessors(c, io);
  const announcer = await c.announcer();
  const totalBytes = walked.files.reduce((n, f) => n + f.size, 0);
  io.err.write(`enqueueing ${formatCount(walked.files.length)} files (${(totalBytes / 1024 ** 2).toFixed(1)} MB) from ${escapeControls(dir)}\n`);
  const enqueue = async (f: SourceFile): Promise<string> => {
    const fileId = randomUUID();
    const copied = await copyIntoProcessing(f, drop, fileId);
    // A duplicate is announced too: the watcher hears it and moves the copy to processed/, as for a dropped duplicate.
    await announcer.register({ id: fileId, source: 'dropzone', originalName: f.rel, storedPath: copied.storedPath, sha256: copied.sha256, sizeBytes: copied.size, compression: copied.compression });
    return fileId;
  };
  const ids = await mapLimit(walked.files, ENQUEUE_CONCURRENCY, (f) =>
    enqueue(f).catch((e: unknown) => {
      throw new CliError(`could not enqueue ${escapeControls(f.rel)}: ${(e as Error).message} (files enqueued before it keep loading; see sluice status)`);
    }),
  );
  noteUnsent(js, io);
  return ids;
}

/** A failed publish is not an error (LedgerAnnouncer: the row stays queued), and the CLI prints no log: say it here. */
function noteUnsent(js: JetStreamService, io: CliIo): void {
  if (js.unsentCount === 0) return;
  io.err.write(`note: ${formatCount(js.unsentCount)} message(s) could not be published yet; their files are registered and queued, and go out once JetStream takes them (or with the watcher's requeue)\n`);
}

/** NATS, once a processor is known to consume the queue (nothing is enqueued otherwise). */
async function requireProcessors(c: CliContext, io: CliIo): Promise<JetStreamService> {
  const js = await c.jetstream();
  const probe = await probePipeline(js);
  if (!probe.processors) {
    throw new CliError(
      `nothing is consuming ${js.subject(FileSubjects.queued)} on NATS ${c.config.NATS_URL}: no processor is running for namespace "${js.namespace}". ` +
        'Start the services (npm start) and run backfill again; nothing was enqueued.',
    );
  }
  if (!probe.outcomes) io.err.write('note: no watcher seems to be running; files will stay in processing/ until one starts (the data loads regardless)\n');
  return js;
}

/** Claims every object under s3://bucket/prefix as the watcher does, and publishes the new ones. */
async function enqueueObjects(c: CliContext, at: S3Location, io: CliIo): Promise<string[] | null> {
  const source = sourceFor(c.config.s3Sources, at);
  const js = await requireProcessors(c, io);
  const [ds, ledger, announcer] = [await c.db(), await c.ledger(), await c.announcer()];
  const { S3ObjectsRepository } = await import('@sluice/loading');
  io.err.write(`listing ${escapeControls(`s3://${at.bucket}/${at.prefix}`)} (source "${escapeControls(source.name)}")\n`);
  const enqueued = await enqueueBucket(source, { objects: new S3ObjectsRepository(ds, ledger), ledger, announcer, limits: c.config.decompressionLimits });
  noteUnsent(js, io);
  if (enqueued.claimedBefore) io.err.write(`${formatCount(enqueued.claimedBefore)} object versions were claimed before (by the watcher or an earlier backfill): not enqueued again\n`);
  if (enqueued.ids.length === 0) {
    io.out.write(`no new objects to load under ${escapeControls(`s3://${at.bucket}/${at.prefix}`)}\n`);
    return null;
  }
  io.err.write(`enqueued ${formatCount(enqueued.ids.length)} objects (${(enqueued.bytes / 1024 ** 2).toFixed(1)} MB)\n`);
  return enqueued.ids;
}
