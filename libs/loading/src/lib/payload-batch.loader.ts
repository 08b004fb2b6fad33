import { Injectable } from '@nestjs/common';
import { addRows } from '@sluice/contracts';
import type { DocumentKind } from '@sluice/formats';
import type { PoolClient } from 'pg';
import { Readable } from 'node:stream';
import { documentSink, isDocumentKind, readDocument } from './json/json-document.loader';
import { DEFAULT_MAX_LINE_BYTES } from './json/ndjson.loader';
import { RecordCounter, settleLoad } from './json/record-load';
import type { FileOrder, RecordSink } from './json/record-sinks';
import type { LoadOptions } from './kind-loader';
import { loadOutcome, refusedOutcome, type FileOutcome } from './ledger.repository';
import { isContractRoute, LoaderRegistry } from './loader-registry';
import { writeRowErrors } from './sensor/ingest-errors.writer';

/** One small payload of a batch, with its ledger row's place in arrival order. */
export interface BatchPayload extends FileOrder {
  originalName: string;
  body: Buffer;
}

/** A document waiting for its table's statement: its result is complete once the sink has written. */
interface PendingDocument {
  fileId: string;
  kind: DocumentKind;
  outcome: FileOutcome;
}

/**
 * Loads many small payloads (API bodies kept in ingest_payloads) inside the caller's transaction. JSON
 * documents — nearly all of them — are parsed and validated one by one in memory, and the valid items of
 * every accepted document go to one set-based statement per table for the whole batch, so a batch costs
 * a handful of statements however many payloads it holds. Other kinds (NDJSON, CSV) go through their own
 * loader. The results are the same as loading each payload alone, in the batch's order: within a batch,
 * as everywhere, the later file wins.
 */
@Injectable()
export class PayloadBatchLoader {
  constructor(private readonly loaders: LoaderRegistry) {}

  async load(client: PoolClient, payloads: readonly BatchPayload[], opts: LoadOptions): Promise<Map<string, FileOutcome>> {
    const outcomes = new Map<string, FileOutcome>();
    const documents: PendingDocument[] = [];
    const sinks = new Map<DocumentKind, RecordSink<unknown>>();
    // Row errors of an earlier attempt are replaced; loaders taking a payload of their own do it themselves.
    await client.query(`DELETE FROM ingest_errors WHERE file_id = ANY($1::uuid[])`, [payloads.map((p) => p.fileId)]);
    for (const p of payloads) {
      // Payloads kept in the database are API bodies: a contract takes them by the name they came under.
      const route = this.loaders.routeBytes(p.body, p.originalName, opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES, { source: 'api', path: p.originalName });
      if ('reason' in route) {
        outcomes.set(p.fileId, refusedOutcome(route.kind, route.reason));
      } else if (isContractRoute(route)) {
        // Its table, when missing, is made in this transaction (ensure inside the load).
        outcomes.set(p.fileId, await route.loader.load(client, p.fileId, route.contract, () => Readable.from([p.body]), opts));
      } else if (isDocumentKind(route.kind)) {
        const outcome = await this.readDocument(client, p, route.kind, opts, sinks);
        if (outcome.status === 'processed') documents.push({ fileId: p.fileId, kind: route.kind, outcome });
        outcomes.set(p.fileId, outcome);
      } else {
        const result = await route.loader.load(client, p.fileId, route.kind, () => Readable.from([p.body]), opts);
        outcomes.set(p.fileId, loadOutcome(route.kind, result));
      }
    }
    for (const sink of sinks.values()) await sink.finish();
    for (const d of documents) {
      const sink = sinks.get(d.kind);
      d.outcome.rowsWritten = sink ? addRows({ [sink.table]: sink.writtenBy.get(d.fileId) }) : {};
    }
    return outcomes;
  }

  /** Validates one document; when the policy accepts it, hands its valid items to the kind's shared sink. */
  private async readDocument(
    client: PoolClient,
    p: BatchPayload,
    kind: DocumentKind,
    opts: LoadOptions,
    sinks: Map<DocumentKind, RecordSink<unknown>>,
  ): Promise<FileOutcome> {
    const counter = new RecordCounter(opts);
    const items: Array<[unknown, number]> = [];
    const body = await readDocument(kind, Readable.from([p.body]), opts, counter, (item, index) => void items.push([item, index]));
    const { result, errors } = settleLoad(counter.tally, 'done' in body ? { written: {} } : body);
    await writeRowErrors(client, p.fileId, errors);
    const outcome = loadOutcome(kind, result);
    if (outcome.status !== 'processed') return outcome;
    let sink = sinks.get(kind);
    if (!sink) sinks.set(kind, (sink = documentSink(kind, client)));
    const file: FileOrder = { fileId: p.fileId, createdAt: p.createdAt };
    for (const [item, index] of items) await sink.add(item, index, file);
    return outcome;
  }
}
