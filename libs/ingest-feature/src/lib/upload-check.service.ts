import { Injectable } from '@nestjs/common';
import { IngestApiConfig } from '@sluice/config';
import { FileCheck, type CheckReport } from '@sluice/loading';
import { sanitizeSegments } from '@sluice/storage';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tooLarge } from './request-body.util';

/**
 * POST /check: an upload spooled to a temporary file outside the drop folder (a check reads a file several
 * times: its hash, its head, its rows), checked as the processor would load it, and removed. Nothing is
 * recorded, queued or stored.
 */
@Injectable()
export class UploadCheck {
  constructor(
    private readonly config: IngestApiConfig,
    private readonly files: FileCheck,
  ) {}

  /** `complete`: a multipart body's end, which must be reached (and valid) before the file is judged. */
  async check(source: NodeJS.ReadableStream, filename: string, complete?: Promise<void>): Promise<CheckReport> {
    const name = sanitizeSegments(filename).at(-1) ?? 'upload';
    const dir = await mkdtemp(join(tmpdir(), 'sluice-check-'));
    const spooled = join(dir, 'upload');
    try {
      await pipeline(source, atMost(this.config.MAX_UPLOAD_BYTES), createWriteStream(spooled));
      if (complete) await complete;
      return await this.files.check(name, () => createReadStream(spooled), { input: { source: 'api', path: name } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** Passes bytes through until there are more than `limit`, then fails with the 413 of POST /ingest/files. */
function atMost(limit: number): Transform {
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      done(size > limit ? tooLarge(limit, 'MAX_UPLOAD_BYTES') : null, chunk);
    },
  });
}
