import { HttpStatus } from '@nestjs/common';
import { ApiException } from '@sluice/http';
import busboy from 'busboy';
import type { IncomingMessage } from 'node:http';
import { finished, PassThrough, type Readable } from 'node:stream';

export const UPLOAD_FIELD = 'file';
/**
 * Fields read before the file part. Other fields are ignored, so the bound only caps the work spent on
 * them (each at most 64 KiB); a body with more is refused saying so.
 */
export const MAX_FIELDS_BEFORE_FILE = 20;

/** The `file` part of a multipart upload. */
export interface UploadPart {
  file: Readable;
  filename: string | undefined;
  /**
   * Settles once the whole body has been read: resolves when the request is valid, rejects when it is
   * refused (a second file part, a malformed body) or aborted. Nothing may be stored before it resolves.
   */
  complete: Promise<void>;
}

/**
 * Calls `onAbort` when the client goes away before the body ended (the socket closed mid-stream). The
 * error is the client's doing (a 400 nobody reads), not a storage failure to log as one.
 */
function onAborted(req: IncomingMessage, onAbort: (e: Error) => void): void {
  finished(req, { writable: false }, (e) => {
    if (e && !req.readableEnded) onAbort(new ApiException(HttpStatus.BAD_REQUEST, 'bad_request', `the client closed the connection before the body ended (${e.message}); nothing was stored`));
  });
}

/**
 * Hands the multipart field `file` to `handle` as a stream, as it arrives (busboy; nothing is buffered
 * whole). Other fields are ignored; a second file, no `file` field, or more than MAX_FIELDS_BEFORE_FILE
 * fields before it is a 400. When `handle` fails the
 * rest of the request is drained so that the client still gets the answer. When the request is refused
 * or the client aborts, the file stream is destroyed with the error, so the handler's writer stops and
 * cleans up at once.
 */
export function withMultipartFile<T>(req: IncomingMessage, handle: (part: UploadPart) => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { files: 1, fields: MAX_FIELDS_BEFORE_FILE, parts: MAX_FIELDS_BEFORE_FILE + 1, fieldSize: 64 * 1024 } });
    } catch (e) {
      reject(ApiException.invalidParameter('Content-Type', `not a usable multipart/form-data header: ${(e as Error).message}`));
      return;
    }
    let result: Promise<T> | undefined;
    let pass: PassThrough | undefined;
    let settled = false;
    let markComplete!: () => void;
    let refuse!: (e: unknown) => void;
    const complete = new Promise<void>((res, rej) => {
      markComplete = res;
      refuse = rej;
    });
    complete.catch(() => undefined); // the handler may never get to await it
    const fail = (e: unknown, aborted = false) => {
      if (settled) return;
      settled = true;
      refuse(e);
      if (pass && !pass.readableEnded) pass.destroy(e as Error);
      req.unpipe(bb);
      if (aborted) bb.destroy();
      else req.resume();
      reject(e);
    };
    const malformed = (e: Error) => fail(ApiException.invalidParameter('body', `malformed multipart/form-data: ${e.message}`));
    bb.on('file', (name, file, info) => {
      // A body cut before its closing boundary fails the part's stream ("Unexpected end of form"), not only busboy.
      file.on('error', malformed);
      if (name !== UPLOAD_FIELD || result) {
        file.resume();
        return;
      }
      // The handler may stop reading early (a size limit): it then destroys this pass-through, not busboy's stream.
      const p = new PassThrough();
      p.on('error', () => undefined); // the handler sees it through its read; this stops an unhandled 'error' once it stopped reading
      pass = p;
      file.pipe(p);
      p.once('close', () => {
        if (!p.readableEnded) {
          file.unpipe(p);
          file.resume();
        }
      });
      result = handle({ file: p, filename: info.filename || undefined, complete });
      result.catch(fail);
    });
    bb.on('filesLimit', () => fail(ApiException.invalidParameter(UPLOAD_FIELD, 'send one file per request')));
    // Past the limits busboy skips the remaining parts, the file among them: say so rather than "no file".
    const tooManyParts = () => {
      if (result) return;
      fail(
        ApiException.invalidParameter(
          'body',
          `the multipart body has more than ${MAX_FIELDS_BEFORE_FILE} fields before its "${UPLOAD_FIELD}" part; send at most ${MAX_FIELDS_BEFORE_FILE} (or the file part first)`,
        ),
      );
    };
    bb.on('fieldsLimit', tooManyParts);
    bb.on('partsLimit', tooManyParts);
    bb.on('error', malformed);
    bb.on('close', () => {
      if (settled) return;
      if (!result) {
        fail(ApiException.invalidParameter(UPLOAD_FIELD, `the multipart body has no field named "${UPLOAD_FIELD}"`));
        return;
      }
      markComplete();
      result.then(
        (r) => {
          settled = true;
          resolve(r);
        },
        fail,
      );
    });
    onAborted(req, (e) => fail(e, true));
    req.pipe(bb);
  });
}

/**
 * The raw request body as a stream the caller may abandon (the request itself is then drained, not
 * destroyed). A client that goes away mid-body destroys the stream with an error, so the reader stops.
 */
export function rawBody(req: IncomingMessage): Readable {
  const pass = new PassThrough();
  pass.on('error', () => undefined); // the reader sees it through its read
  req.pipe(pass);
  pass.once('close', () => {
    if (!req.readableEnded) {
      req.unpipe(pass);
      req.resume();
    }
  });
  onAborted(req, (e) => pass.destroy(e));
  return pass;
}
