import { type Logger, StreamableFile } from '@nestjs/common';
import type { Pool } from 'pg';
import QueryStream from 'pg-query-stream';
import { pipeline, type Readable, type Transform } from 'node:stream';

/** Rows fetched per round trip by an export cursor by default (and buffered ahead of the socket at most). */
const EXPORT_BATCH_ROWS = 2000;
/** Closing a cursor waits for the server's answer; a connection that cannot give one is not waited on longer. */
const CURSOR_CLOSE_TIMEOUT_MS = 5000;

/**
 * pg-query-stream whose destroy never hangs: its own close waits for ReadyForQuery, which a failed
 * query or a dead connection never sends, and the stream would then never emit 'error' or 'close'.
 */
class ExportCursorStream extends QueryStream {
  connectionLost = false;

  override _destroy(err: Error, cb: (e?: Error | null) => void): void {
    if (this.connectionLost || (this.cursor as { state?: string }).state === 'error') {
      cb(err);
      return;
    }
    let done = false;
    const finish = (e?: Error | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      cb(e ?? err);
    };
    const timer = setTimeout(() => finish(err ?? new Error('closing the export cursor timed out')), CURSOR_CLOSE_TIMEOUT_MS);
    super._destroy(err, finish);
  }
}

/**
 * The rows of `sql` as a stream of arrays, read through a server-side cursor on a pool client of its own:
 * memory stays at one batch whatever the range. The client goes back to the pool when the stream ends and
 * is discarded when it is destroyed early (a client that went away) or fails, so a half-read portal never
 * reaches the next user of the pool. `what` names the export in the log.
 */
export async function openExportCursor(pool: Pool, sql: string, values: unknown[], logger: Logger, what: string, batchSize = EXPORT_BATCH_ROWS): Promise<Readable> {
  const client = await pool.connect();
  const stream = new ExportCursorStream(sql, values, { batchSize, rowMode: 'array' });
  let released = false;
  // A checked-out pg client has no error listener of the pool's: without ours, a connection that dies
  // mid-export (a restarted or terminated backend) would be an unhandled 'error' and end the process.
  const onClientError = (e: Error) => {
    stream.connectionLost = true;
    stream.destroy(e);
  };
  client.on('error', onClientError);
  const release = (discard: boolean) => {
    if (released) return;
    released = true;
    // A discarded client may still report its socket closing: keep it listened to.
    if (!discard) client.removeListener('error', onClientError);
    client.release(discard);
  };
  stream.once('error', (e: Error) => {
    logger.warn(`export of ${what} failed: ${e.message}`);
    release(true);
  });
  stream.once('close', () => release(!stream.readableEnded));
  client.query(stream);
  return stream;
}

/** The response as StreamableFile's error handler sees it (the interface is not exported by Nest). */
type StreamResponse = Parameters<Parameters<StreamableFile['setErrorHandler']>[0]>[1];

/**
 * An export response: `rows` through `encoder` to the socket (Nest pipes it and destroys it if the client
 * goes), as an attachment named `fileName`. A failure before the first byte is a 500; after it, only an
 * aborted connection can say so, so a truncated export never looks complete.
 */
export function exportResponse(rows: Readable, encoder: Transform, type: string, fileName: string, logger: Logger, what: string): StreamableFile {
  const body = pipeline(rows, encoder, () => undefined);
  return new StreamableFile(body, { type, disposition: `attachment; filename="${fileName}"` }).setErrorHandler((err: Error, res: StreamResponse) => {
    if (res.destroyed) return;
    logger.error(`export of ${what} failed: ${err.message}`);
    if (!res.headersSent) {
      res.statusCode = 500;
      res.send('the export failed; see the query-api log');
    } else if (res.destroy) {
      res.destroy();
    } else {
      res.end();
    }
  });
}
