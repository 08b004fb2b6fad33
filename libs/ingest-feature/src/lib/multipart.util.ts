import { ApiException } from '@sluice/http';
import busboy from 'busboy';
import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';

export const UPLOAD_FIELD = 'file';

/**
 * Hands the multipart field `file` to `handle` as a stream, as it arrives (busboy; nothing is buffered
 * whole). Other fields are ignored; a second file, or no `file` field, is a 400. When `handle` fails the
 * rest of the request is drained so that the client still gets the answer.
 */
export function withMultipartFile<T>(req: IncomingMessage, handle: (file: Readable, filename: string | undefined) => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { files: 1, fields: 20, parts: 21, fieldSize: 64 * 1024 } });
    } catch (e) {
      reject(ApiException.invalidParameter('Content-Type', `not a usable multipart/form-data header: ${(e as Error).message}`));
      return;
    }
    let result: Promise<T> | undefined;
    let settled = false;
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      req.unpipe(bb);
      req.resume();
      reject(e);
    };
    bb.on('file', (name, file, info) => {
      if (name !== UPLOAD_FIELD || result) {
        file.resume();
        return;
      }
      // The handler may stop reading early (a size limit): it then destroys this pass-through, not busboy's stream.
      const pass = new PassThrough();
      file.pipe(pass);
      pass.once('close', () => {
        if (!pass.readableEnded) {
          file.unpipe(pass);
          file.resume();
        }
      });
      result = handle(pass, info.filename || undefined);
      result.catch(fail);
    });
    bb.on('filesLimit', () => fail(ApiException.invalidParameter(UPLOAD_FIELD, 'send one file per request')));
    bb.on('error', (e: Error) => fail(ApiException.invalidParameter('body', `malformed multipart/form-data: ${e.message}`)));
    bb.on('close', () => {
      if (settled) return;
      if (!result) {
        fail(ApiException.invalidParameter(UPLOAD_FIELD, `the multipart body has no field named "${UPLOAD_FIELD}"`));
        return;
      }
      result.then(
        (r) => {
          settled = true;
          resolve(r);
        },
        fail,
      );
    });
    req.pipe(bb);
  });
}

/** The raw request body as a stream the caller may abandon (the request itself is then drained, not destroyed). */
export function rawBody(req: IncomingMessage): Readable {
  const pass = new PassThrough();
  req.pipe(pass);
  pass.once('close', () => {
    if (!req.readableEnded) {
      req.unpipe(pass);
      req.resume();
    }
  });
  return pass;
}
