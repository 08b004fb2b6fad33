import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { S3TestServer, Stack } from '@sluice/testing';
import { CAMPAIGN_BUCKET } from './environment';
import type { Input } from './inputs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How long a writer or client keeps retrying through a fault before the round gives up on it. */
const GIVE_UP_MS = 120000;

/** What became of one input: the raw_id the API answered, and attempts whose answer was lost (may have landed). */
export interface Delivery {
  input: Input;
  rawId?: string;
  /** Attempts whose answer was lost (connection reset, timeout): each may or may not have been stored. */
  unanswered: number;
  error?: string;
  /** An object a mid-read fault struck: overwritten or deleted while a processor read it. */
  struck?: 'overwritten' | 'deleted';
}

/** The ledger's original_name of an object of the campaign's bucket. */
export const objectName = (key: string) => `s3://${CAMPAIGN_BUCKET}/${key}`;

/** A writer that puts an object in the watched bucket, again and again while the S3 server is down. */
export async function putObject(s3: S3TestServer, key: string, body: Buffer): Promise<void> {
  const deadline = Date.now() + GIVE_UP_MS;
  for (;;) {
    try {
      await s3.put(CAMPAIGN_BUCKET, key, body);
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(300);
    }
  }
}

/** A writer that writes a dotfile and renames it into incoming/; a full disk makes it wait and write again. */
async function drop(stack: Stack, input: Input): Promise<void> {
  const tmp = join(stack.dropzone, 'incoming', `.${input.name}`);
  const deadline = Date.now() + GIVE_UP_MS;
  for (;;) {
    try {
      writeFileSync(tmp, input.body);
      renameSync(tmp, join(stack.dropzone, 'incoming', input.name));
      return;
    } catch (e) {
      rmSync(tmp, { force: true });
      if (Date.now() > deadline) throw e;
      await sleep(200);
    }
  }
}

/**
 * A client that retries until it gets a 202: on 503 (nothing stored) and on a lost answer (maybe stored; the
 * Idempotency-Key makes the retry return the first raw_id when it was).
 */
async function send(stack: Stack, url: string, input: Input, headers: Record<string, string>, d: Delivery): Promise<void> {
  const deadline = Date.now() + GIVE_UP_MS;
  for (;;) {
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', body: input.body, headers: { 'x-api-key': stack.ingestKey, ...headers }, signal: AbortSignal.timeout(20000) });
    } catch (e) {
      // A refused connection stored nothing; any other failure may have lost an answer to a stored request.
      if ((e as { cause?: { code?: string } }).cause?.code !== 'ECONNREFUSED') d.unanswered++;
      if (Date.now() > deadline) throw new Error(`no answer from the ingest-api for ${input.name}`);
      await sleep(200);
      continue;
    }
    const text = await res.text().catch(() => '');
    if (res.status === 202) {
      d.rawId = (JSON.parse(text) as { raw_id: string }).raw_id;
      return;
    }
    if (res.status !== 503 && res.status !== 502 && res.status !== 500) throw new Error(`${input.name}: HTTP ${res.status} ${text.slice(0, 200)}`);
    if (Date.now() > deadline) throw new Error(`${input.name}: still HTTP ${res.status} after ${GIVE_UP_MS} ms`);
    await sleep(300);
  }
}

/** Delivers one input at `atMs` after the load starts; the delivery records how it went. */
export async function deliver(stack: Stack, s3: S3TestServer, input: Input, atMs: number): Promise<Delivery> {
  await sleep(atMs);
  const d: Delivery = { input, unanswered: 0 };
  try {
    if (input.kind === 'drop') await drop(stack, input);
    else if (input.kind === 's3') await putObject(s3, input.name, input.body);
    else if (input.kind === 'upload') {
      const url = `${stack.url('ingest-api')}/ingest/files?filename=${encodeURIComponent(input.name)}`;
      await send(stack, url, input, { 'content-type': 'text/csv', 'idempotency-key': `upload-${input.name}` }, d);
    } else if (input.kind === 'post') {
      const headers: Record<string, string> = { 'content-type': 'application/json', ...(input.idempotencyKey ? { 'idempotency-key': input.idempotencyKey } : {}) };
      await send(stack, `${stack.url('ingest-api')}/ingest`, input, headers, d);
    }
  } catch (e) {
    d.error = (e as Error).message;
  }
  return d;
}
