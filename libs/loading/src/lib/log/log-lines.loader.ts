import { Injectable } from '@nestjs/common';
import type { FileKind } from '@sluice/contracts';
import { rowsOf } from '@sluice/db';
import { cap, lateProblem, microsToIso, parseLogLine, RAW_CAP, readLines, textProblem, textProblemMessage, ZonedTime } from '@sluice/formats';
import type { PoolClient } from 'pg';
import type { KindLoader, LoadOptions, LoadResult } from '../kind-loader';
import { DEFAULT_MAX_LINE_BYTES } from '../json/ndjson.loader';
import { runRecordLoad, unreadableLine, type RecordCounter } from '../json/record-load';
import { destroy } from '../load-stream';
import { CopySink, copyField } from '../sensor/copy-sink';
import { TagCounts } from './tag-counts';

const STAGE = 'sluice_log_stage';

/**
 * Plain-text line files (SPEC §4.7): streamed line by line (one line at most in memory, MAX_LINE_BYTES),
 * each non-blank line split into timestamp, tag and message and COPYed into log_lines; the counts per tag
 * go on the ledger row in the same transaction. A line with a NUL or bytes that are not UTF-8, or longer
 * than MAX_LINE_BYTES, is a row error with its number. Loading a file again (a replay) COPYs into a staging
 * table and rewrites only the lines that differ, so the same bytes change nothing.
 */
@Injectable()
export class LogLinesLoader implements KindLoader {
  readonly kinds: readonly FileKind[] = ['log'];

  async load(client: PoolClient, fileId: string, kind: FileKind, open: () => NodeJS.ReadableStream, opts: LoadOptions): Promise<LoadResult> {
    if (kind !== 'log') throw new Error(`LogLinesLoader cannot load ${kind}`);
    return runRecordLoad(client, fileId, opts, async (counter) => {
      const again = (await client.query(`SELECT 1 FROM log_lines WHERE file_id = $1 LIMIT 1`, [fileId])).rowCount !== 0;
      if (again) {
        await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${STAGE} (line int NOT NULL, ts timestamptz, tag text, message text NOT NULL) ON COMMIT DROP`);
        await client.query(`TRUNCATE ${STAGE}`);
      }
      const copy = new CopySink(client, again ? `COPY ${STAGE} (line, ts, tag, message) FROM STDIN` : `COPY log_lines (file_id, line, ts, tag, message) FROM STDIN`);
      const tags = new TagCounts();
      const stream = open();
      let copied: number;
      try {
        const stopped = await copyLines(stream, again ? '' : `${fileId}\t`, copy, counter, tags, opts);
        if (stopped) {
          await copy.abort('file refused');
          return { stopped: true };
        }
        copied = await copy.end();
      } catch (e) {
        await copy.abort('load failed');
        throw e;
      } finally {
        destroy(stream);
      }
      const written = again ? await mergeStaged(client, fileId) : copied;
      await client.query(`UPDATE ingest_files SET tag_counts = $2 WHERE id = $1`, [fileId, JSON.stringify(tags)]);
      return { written: { log_lines: written } };
    });
  }
}

/** Reads, checks and COPYs every line; true when INVALID_ROWS=reject stops the file at a bad line. */
async function copyLines(stream: NodeJS.ReadableStream, prefix: string, copy: CopySink, counter: RecordCounter, tags: TagCounts, opts: LoadOptions): Promise<boolean> {
  const naive = new ZonedTime(opts.naiveTimeZone);
  const maxLine = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const notBefore = opts.notBefore?.logMicros ?? -Infinity;
  for await (const batch of readLines(stream, maxLine, { loneCr: true })) {
    let text = '';
    for (const raw of batch) {
      if ('error' in raw) {
        if (counter.reject(unreadableLine(raw, maxLine))) return true;
        continue;
      }
      if (raw.text.trim() === '') continue;
      const problem = textProblem(raw.text);
      if (problem) {
        const r = { line: raw.line, column: null, rule: problem, message: `line ${raw.line}: ${textProblemMessage(problem, 'the line')}`, value: null, raw: cap(raw.text, RAW_CAP) };
        if (counter.reject(r)) return true;
        continue;
      }
      const l = parseLogLine(raw.text, naive);
      if (l.tsMicros !== null && l.tsMicros < notBefore) {
        const p = lateProblem('ts', l.tsMicros, notBefore, 'LOG_RETENTION');
        if (counter.reject({ line: raw.line, column: 'ts', rule: p.rule, message: `line ${raw.line}: ${p.message}`, value: microsToIso(l.tsMicros), raw: cap(raw.text, RAW_CAP) })) return true;
        continue;
      }
      counter.good();
      tags.add(l.tag);
      text += `${prefix}${raw.line}\t${l.tsMicros === null ? '\\N' : microsToIso(l.tsMicros)}\t${l.tag === null ? '\\N' : l.tag}\t${copyField(l.message)}\n`;
    }
    await copy.write(text);
  }
  return false;
}

/**
 * The staged lines of a file loaded before: lines that differ (or are gone) are deleted and the new ones
 * inserted; identical lines are left alone. Returns the lines written.
 */
async function mergeStaged(client: PoolClient, fileId: string): Promise<number> {
  await client.query(
    `DELETE FROM log_lines l
      WHERE l.file_id = $1
        AND NOT EXISTS (SELECT 1 FROM ${STAGE} s WHERE s.line = l.line AND (s.ts, s.tag, s.message) IS NOT DISTINCT FROM (l.ts, l.tag, l.message))`,
    [fileId],
  );
  const res = await client.query(
    `WITH ins AS (
       INSERT INTO log_lines (file_id, line, ts, tag, message)
       SELECT $1, s.line, s.ts, s.tag, s.message FROM ${STAGE} s ORDER BY s.line
       ON CONFLICT (file_id, line, ts) DO NOTHING
       RETURNING 1)
     SELECT count(*)::int AS n FROM ins`,
    [fileId],
  );
  return rowsOf<{ n: number }>(res)[0]?.n ?? 0;
}
