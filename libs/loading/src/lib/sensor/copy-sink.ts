import { hasSqlState, SqlState } from '@sluice/db';
import type { PoolClient } from 'pg';
import { from as copyFrom, type CopyStreamQuery } from 'pg-copy-streams';

/** COPY's binary format: the signature, no flags, no header extension. */
export const COPY_BINARY_HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
/** A field count of -1 ends binary COPY data. */
export const COPY_BINARY_TRAILER = Buffer.from([0xff, 0xff]);

export interface CopySinkOptions {
  /** COPY's binary format: the sink writes its header first and its trailer at the end; the caller writes tuples. */
  binary?: boolean;
  /** Told each wait for the server (a drain, the end): the COPY's share of a load that parses meanwhile. */
  onWait?: (ms: number) => void;
}

/**
 * A COPY … FROM STDIN on the caller's client with backpressure: `write` waits for drain, and fails fast
 * once the server has refused the data (e.g. a unique violation) instead of streaming the rest for nothing.
 */
export class CopySink {
  private readonly stream: CopyStreamQuery;
  private error: Error | null = null;
  private readonly done: Promise<void>;

  constructor(
    client: PoolClient,
    sql: string,
    private readonly options: CopySinkOptions = {},
  ) {
    this.stream = client.query(copyFrom(sql));
    this.done = new Promise<void>((resolve, reject) => {
      this.stream.once('finish', resolve);
      this.stream.once('error', (e: Error) => {
        this.error = e;
        reject(e);
      });
    });
    this.done.catch(() => undefined);
    if (options.binary) this.stream.write(COPY_BINARY_HEADER);
  }

  get failed(): Error | null {
    return this.error;
  }

  /** Resolves at once when the stream has room; rejects with the server's error if COPY failed. */
  async write(data: string | Buffer): Promise<void> {
    if (this.error) throw this.error;
    if (data.length === 0) return;
    if (!this.stream.write(data)) await this.wait(Promise.race([new Promise<void>((r) => this.stream.once('drain', r)), this.done]));
  }

  /** Ends the COPY and waits for the server to confirm; returns the row count. */
  async end(): Promise<number> {
    if (this.error) throw this.error;
    if (this.options.binary) this.stream.write(COPY_BINARY_TRAILER);
    this.stream.end();
    await this.wait(this.done);
    return this.stream.rowCount;
  }

  private async wait(p: Promise<void>): Promise<void> {
    const t0 = performance.now();
    try {
      await p;
    } finally {
      this.options.onWait?.(performance.now() - t0);
    }
  }

  /** Cancels the COPY (CopyFail); the transaction is then aborted until the caller rolls back to its savepoint. */
  async abort(reason: string): Promise<void> {
    if (!this.error) this.stream.destroy(new Error(reason));
    await this.done.catch(() => undefined);
  }
}

/** Text as one field of COPY's text format: backslash, tab, LF and CR escaped. */
export function copyField(text: string): string {
  return /[\\\t\n\r]/.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]) : text;
}

const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

export function isUniqueViolation(e: unknown): boolean {
  return hasSqlState(e, SqlState.uniqueViolation);
}
