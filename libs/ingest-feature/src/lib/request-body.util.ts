import { HttpStatus } from '@nestjs/common';
import { ApiException } from '@sluice/http';
import type { IncomingMessage } from 'node:http';

/** `application/json; charset=utf-8` → `application/json`; null when absent. */
export function mediaType(header: string | undefined): string | null {
  if (!header) return null;
  return header.split(';')[0].trim().toLowerCase() || null;
}

export function tooLarge(limit: number, variable: string, actual?: number): ApiException {
  const size = actual !== undefined ? `${actual} bytes` : 'more bytes';
  return new ApiException(HttpStatus.PAYLOAD_TOO_LARGE, 'payload_too_large', `the body has ${size}; the limit is ${limit} bytes (${variable})`, { limit, variable });
}

/** A declared Content-Length over the limit is refused before anything is read. */
export function assertDeclaredLength(req: IncomingMessage, limit: number, variable: string): void {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit, variable, declared);
}

/**
 * Reads the whole body (small payloads only), refusing it with 413 as soon as it passes `limit`. The
 * rest of a refused body is drained, not read into memory, so the client still gets its answer.
 */
export function readBody(req: IncomingMessage, limit: number, variable: string): Promise<Buffer> {
  assertDeclaredLength(req, limit, variable);
  return new Promise<Buffer>((resolve, reject) => {
    // Gone while the request waited its turn: no event would come any more.
    if (req.destroyed && !req.readableEnded) {
      reject(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume();
        reject(tooLarge(limit, variable));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
