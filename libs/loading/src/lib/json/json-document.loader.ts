import { Injectable } from '@nestjs/common';
import type { FileKind, RejectReason } from '@sluice/contracts';
import {
  DOCUMENT_ITEMS_KEY,
  DOCUMENT_KINDS,
  documentItems,
  duplicateKeys,
  formatPath,
  locateLines,
  MEASUREMENT_MAX_DOCUMENT_BYTES,
  parseJson,
  readJsonText,
  streamDocumentItems,
  streamedShapeProblem,
  syntaxReject,
  validateItem,
  type DetectionEventItemDto,
  type DocumentItem,
  type DocumentKind,
  type DocumentProblem,
  type JsonPath,
  type MeasurementDto,
  type RowReject,
  type StreamedEnd,
  type VehicleStatusItemDto,
} from '@sluice/formats';
import type { PoolClient } from 'pg';
import type { KindLoader, LoadOptions, LoadResult } from '../kind-loader';
import { MAX_ROW_ERRORS } from '../sensor/row-tally';
import { DEFAULT_MAX_LINE_BYTES } from './ndjson.loader';
import { destroy } from '../load-stream';
import { fileOrder, itemReject, lateRecordProblem, placeReject, runRecordLoad, type RecordCounter } from './record-load';
import { DetectionSink, MeasurementSink, VehicleStatusSink, type FileOrder, type RecordSink } from './record-sinks';

/** How reading a document's items ended: all read, refused as a whole, or stopped by INVALID_ROWS. */
export type DocumentOutcome = { done: true } | { fileRejection: RejectReason } | { stopped: true };

/** Receives each valid item with its index in the document (a later index wins over an earlier one). */
export type ItemSink = (item: unknown, index: number) => Promise<void> | void;

/**
 * Single-document JSON (SPEC §4.2–4.4). Vehicle status and detection documents are read as they stream:
 * each item of the top-level array is parsed, validated with the shared DTOs and handed to its table's
 * sink before the next is read, so memory stays flat whatever the size (an item may have MAX_LINE_BYTES,
 * as an NDJSON line). A bad item is recorded with its line and field path and the INVALID_ROWS policy
 * decides. A measurement document is one record of at most MEASUREMENT_MAX_SAMPLES samples: it is read
 * whole, up to MEASUREMENT_MAX_DOCUMENT_BYTES.
 */
@Injectable()
export class JsonDocumentLoader implements KindLoader {
  readonly kinds: readonly FileKind[] = DOCUMENT_KINDS;

  async load(client: PoolClient, fileId: string, kind: FileKind, open: () => NodeJS.ReadableStream, opts: LoadOptions): Promise<LoadResult> {
    if (!isDocumentKind(kind)) throw new Error(`JsonDocumentLoader cannot load ${kind}`);
    return runRecordLoad(client, fileId, opts, async (counter) => {
      const sink = documentSink(kind, client, await fileOrder(client, fileId));
      const stream = open();
      let outcome: DocumentOutcome;
      try {
        outcome = await readDocument(kind, stream, opts, counter, (item, index) => sink.add(item, index));
      } finally {
        destroy(stream);
      }
      if (!('done' in outcome)) return outcome;
      await sink.finish();
      return { written: { [sink.table]: sink.written } };
    });
  }
}

/** Reads one document from its byte stream, streamed or (a measurement) whole, and validates its items. */
export async function readDocument(kind: DocumentKind, input: NodeJS.ReadableStream, opts: LoadOptions, counter: RecordCounter, accept: ItemSink): Promise<DocumentOutcome> {
  const key = DOCUMENT_ITEMS_KEY[kind];
  if (key !== null) return streamDocument(kind, key, input, opts, counter, accept);
  const text = await readJsonText(input, { maxBytes: Math.min(opts.maxJsonDocumentBytes ?? Infinity, MEASUREMENT_MAX_DOCUMENT_BYTES), what: 'measurement document' });
  return typeof text === 'string' ? readWholeDocument(kind, text, opts, counter, accept) : { fileRejection: text.reject };
}

/**
 * Reads the items of a `{"<key>": [items]}` document from its byte stream (`streamDocumentItems`) and
 * validates each as it comes: valid ones go to `accept`, refused ones are counted on `counter` (which
 * applies INVALID_ROWS) with the line of the offending field. A syntax or shape problem refuses the whole
 * document (the items before it were read, and are rolled back by the caller).
 */
export async function streamDocument(
  kind: DocumentKind,
  key: string,
  input: NodeJS.ReadableStream,
  opts: LoadOptions,
  counter: RecordCounter,
  accept: ItemSink,
): Promise<DocumentOutcome> {
  const items = streamDocumentItems(input, key, { maxItemBytes: opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES, maxDepth: opts.maxJsonDepth, maxDocumentBytes: opts.maxJsonDocumentBytes });
  let end: StreamedEnd;
  try {
    for (let r = await items.next(); ; r = await items.next()) {
      if (r.done) {
        end = r.value;
        break;
      }
      for (const item of r.value) {
        const problems = validateItem(kind, item.value, [key, item.index], item.duplicates);
        const late = problems.length ? null : lateRecordProblem(kind, item.value, [key, item.index], opts);
        if (late) problems.push(late);
        if (!problems.length) {
          counter.good();
          await accept(item.value, item.index);
          continue;
        }
        const rejected = itemReject(problems, item.value);
        placeReject(rejected, lineWithin(item, problems[0].path.slice(2)));
        if (counter.reject(rejected)) return { stopped: true };
      }
    }
  } catch (e) {
    const reject = syntaxReject(e);
    if (!reject) throw e;
    return { fileRejection: reject };
  }
  if ('reject' in end) return { fileRejection: end.reject };
  const shape = streamedShapeProblem(kind, end.doc);
  if (!shape) return { done: true };
  const member = shape.path[0];
  return { fileRejection: placed(shapeReason(shape), end.lineOf(typeof member === 'string' ? member : undefined)) };
}

/** The line of the value at `path` (relative to the item) in a streamed item. */
function lineWithin(item: DocumentItem, path: JsonPath): number {
  if (!path.length) return item.line;
  return locateLines(item.text(), [path], item.line).get(formatPath(path)) ?? item.line;
}

/**
 * Parses a whole document's text (a measurement: one record) and validates its items with the shared DTOs:
 * valid ones go to `accept`, refused ones are counted on `counter` (which applies INVALID_ROWS) and located
 * by line in one scan of the text. A syntax or shape problem refuses the whole document.
 */
export async function readWholeDocument(kind: DocumentKind, text: string, opts: LoadOptions, counter: RecordCounter, accept: ItemSink): Promise<DocumentOutcome> {
  const refused: Array<{ reject: RowReject; path: JsonPath }> = [];
  let outcome: DocumentOutcome | { fileRejection: RejectReason & { path?: JsonPath } } = { done: true };
  try {
    const items = documentItems(kind, parseDocument(text, opts));
    if (!Array.isArray(items)) outcome = { fileRejection: shapeReason(items) };
    else {
      const key = DOCUMENT_ITEMS_KEY[kind];
      const duplicates = duplicateKeys(text);
      const within = (i: number) => (key === null ? duplicates : duplicates.filter((p) => p[0] === key && p[1] === i).map((p) => p.slice(2)));
      for (let i = 0; i < items.length; i++) {
        const problems = validateItem(kind, items[i], key === null ? [] : [key, i], duplicates.length ? within(i) : []);
        if (!problems.length) {
          counter.good();
          await accept(items[i], i);
          continue;
        }
        const r = itemReject(problems, items[i]);
        if (refused.length < MAX_ROW_ERRORS) refused.push({ reject: r, path: problems[0].path });
        if (counter.reject(r)) {
          outcome = { stopped: true };
          break;
        }
      }
    }
  } catch (e) {
    const reject = syntaxReject(e);
    if (!reject) throw e;
    return { fileRejection: reject };
  }
  // Lines of the refused items (as many as ingest_errors keeps), found in one scan of the text.
  if (refused.length) {
    const lines = locateLines(text, refused.map((x) => x.path));
    for (const x of refused) placeReject(x.reject, lines.get(formatPath(x.path)) ?? 1);
  }
  if ('fileRejection' in outcome && outcome.fileRejection.line === undefined) {
    const p = outcome.fileRejection as RejectReason & { path?: JsonPath };
    return { fileRejection: placed(p, locateLines(text, [p.path ?? []]).get(formatPath(p.path ?? [])) ?? 1) };
  }
  return outcome;
}

/** A whole-document reason with its line (its `path`, used to find the line, dropped). */
function placed(reason: RejectReason & { path?: JsonPath }, line: number): RejectReason {
  const { path: _path, ...rest } = reason;
  return { ...rest, line, message: `line ${line}: ${reason.message}` };
}

/**
 * V8's parser for valid JSON (several times faster); the position-aware one when it fails, which says
 * where, reads NaN/Infinity so that validation can name the field, and enforces the nesting limit.
 */
function parseDocument(text: string, opts: LoadOptions): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return parseJson(text, { maxDepth: opts.maxJsonDepth }).value;
  }
}

/** A whole-document problem as a quarantine reason; its line is found afterwards from `path`. */
function shapeReason(p: DocumentProblem): RejectReason & { path: JsonPath } {
  return { rule: p.rule, message: p.message, path: p.path, ...(p.field ? { column: p.field } : {}), ...(p.value !== null ? { value: p.value } : {}) };
}

export function isDocumentKind(kind: FileKind): kind is DocumentKind {
  return (DOCUMENT_KINDS as readonly FileKind[]).includes(kind);
}

/** The latest-state table sink of a document kind; `file` is the default source of its records. */
export function documentSink(kind: DocumentKind, client: PoolClient, file?: FileOrder): RecordSink<unknown> {
  switch (kind) {
    case 'vehicle_status':
      return new VehicleStatusSink(client, file) as RecordSink<VehicleStatusItemDto> as RecordSink<unknown>;
    case 'detections':
      return new DetectionSink(client, file) as RecordSink<DetectionEventItemDto> as RecordSink<unknown>;
    case 'measurement':
      return new MeasurementSink(client, file) as RecordSink<MeasurementDto> as RecordSink<unknown>;
  }
}
