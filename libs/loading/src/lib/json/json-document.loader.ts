import { Injectable } from '@nestjs/common';
import type { FileKind, RejectReason } from '@sluice/contracts';
import {
  DOCUMENT_ITEMS_KEY,
  DOCUMENT_KINDS,
  documentItems,
  formatPath,
  locateLines,
  parseJson,
  readJsonText,
  streamedShapeProblem,
  streamJsonItems,
  syntaxReject,
  validateItem,
  type DetectionEventItemDto,
  type DocumentKind,
  type DocumentProblem,
  type JsonPath,
  type MeasurementDto,
  type RowReject,
  type StreamedDocument,
  type VehicleStatusItemDto,
} from '@sluice/formats';
import type { PoolClient } from 'pg';
import type { KindLoader, LoadOptions, LoadResult } from '../kind-loader';
import { MAX_ROW_ERRORS } from '../sensor/row-tally';
import { destroy, fileOrder, itemReject, placeReject, runRecordLoad, type RecordCounter } from './record-load';
import { DetectionSink, MeasurementSink, VehicleStatusSink, type FileOrder, type RecordSink } from './record-sinks';

/** How reading a document's items ended: all read, refused as a whole, or stopped by INVALID_ROWS. */
export type DocumentOutcome = { done: true } | { fileRejection: RejectReason } | { stopped: true };

/** Receives each valid item with its index in the document (a later index wins over an earlier one). */
export type ItemSink = (item: unknown, index: number) => Promise<void> | void;

/**
 * Single-document JSON (SPEC §4.2–4.4). The text is read whole, up to MAX_JSON_DOCUMENT_BYTES; the items
 * of its top-level array are parsed one at a time (the document never exists as one tree) and validated
 * with the shared DTOs: a bad item is recorded with its line and field path and the INVALID_ROWS policy
 * decides; good items go to their table in set-based batches.
 */
@Injectable()
export class JsonDocumentLoader implements KindLoader {
  readonly kinds: readonly FileKind[] = DOCUMENT_KINDS;

  async load(client: PoolClient, fileId: string, kind: FileKind, open: () => NodeJS.ReadableStream, opts: LoadOptions): Promise<LoadResult> {
    if (!isDocumentKind(kind)) throw new Error(`JsonDocumentLoader cannot load ${kind}`);
    return runRecordLoad(client, fileId, opts, async (counter) => {
      const stream = open();
      let text: Awaited<ReturnType<typeof readJsonText>>;
      try {
        text = await readJsonText(stream, { maxBytes: opts.maxJsonDocumentBytes });
      } finally {
        destroy(stream);
      }
      if (typeof text !== 'string') return { fileRejection: text.reject };
      const sink = documentSink(kind, client, await fileOrder(client, fileId));
      const outcome = await readDocumentItems(kind, text, opts, counter, (item, index) => sink.add(item, index));
      if (!('done' in outcome)) return outcome;
      await sink.finish();
      return { written: sink.written };
    });
  }
}

/**
 * Parses the items of one document and validates each with the shared DTOs: valid ones go to `accept`,
 * refused ones are counted on `counter` (which applies INVALID_ROWS) and located by line in one scan of
 * the text. A syntax or shape problem refuses the whole document.
 */
export async function readDocumentItems(kind: DocumentKind, text: string, opts: LoadOptions, counter: RecordCounter, accept: ItemSink): Promise<DocumentOutcome> {
  const refused: Refused[] = [];
  const take = async (item: unknown, path: JsonPath, index: number): Promise<boolean> => {
    const problems = validateItem(kind, item, path);
    if (problems.length) {
      const r = itemReject(problems, item);
      if (refused.length < MAX_ROW_ERRORS) refused.push({ reject: r, path: problems[0].path });
      return !counter.reject(r);
    }
    counter.good();
    await accept(item, index);
    return true;
  };
  let outcome: DocumentOutcome | { fileRejection: RejectReason & { path?: JsonPath } };
  try {
    const key = DOCUMENT_ITEMS_KEY[kind];
    outcome = key === null ? await single(kind, text, opts, take) : await streamed(kind, key, text, opts, take);
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
    const line = locateLines(text, [p.path ?? []]).get(formatPath(p.path ?? [])) ?? 1;
    delete p.path;
    return { fileRejection: { ...p, line, message: `line ${line}: ${p.message}` } };
  }
  return outcome;
}

interface Refused {
  reject: RowReject;
  path: JsonPath;
}

/** Validates and passes on one item; false when the INVALID_ROWS policy stops the document. */
type TakeItem = (item: unknown, path: JsonPath, index: number) => Promise<boolean>;

/** vehicle_status and detections: `{"<key>": [items]}`, items streamed. */
async function streamed(kind: DocumentKind, key: string, text: string, opts: LoadOptions, take: TakeItem): Promise<DocumentOutcome> {
  const items = streamJsonItems(text, key, { maxDepth: opts.maxJsonDepth });
  let i = 0;
  let doc: StreamedDocument;
  for (let r = items.next(); ; r = items.next(), i++) {
    if (r.done) {
      doc = r.value;
      break;
    }
    if (!(await take(r.value, [key, i], i))) return { stopped: true };
  }
  const shape = streamedShapeProblem(kind, doc);
  return shape ? { fileRejection: shapeReason(shape) } : { done: true };
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

/** measurement: the document is the one item. */
async function single(kind: DocumentKind, text: string, opts: LoadOptions, take: TakeItem): Promise<DocumentOutcome> {
  const items = documentItems(kind, parseDocument(text, opts));
  if (!Array.isArray(items)) return { fileRejection: shapeReason(items) };
  for (let i = 0; i < items.length; i++) if (!(await take(items[i], [], i))) return { stopped: true };
  return { done: true };
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
