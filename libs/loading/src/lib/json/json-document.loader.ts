import { Injectable } from '@nestjs/common';
import type { FileKind } from '@sluice/contracts';
import {
  DOCUMENT_ITEMS_KEY,
  DOCUMENT_KINDS,
  documentItems,
  readJsonDocument,
  validateItem,
  type DetectionEventItemDto,
  type DocumentKind,
  type JsonPath,
  type MeasurementDto,
  type VehicleStatusItemDto,
} from '@sluice/formats';
import type { PoolClient } from 'pg';
import type { KindLoader, LoadOptions, LoadResult } from '../kind-loader';
import { destroy, fileOrder, itemReject, runRecordLoad } from './record-load';
import { DetectionSink, MeasurementSink, VehicleStatusSink, type FileOrder, type RecordSink } from './record-sinks';

/**
 * Single-document JSON (SPEC §4.2–4.4). The document is read whole, up to MAX_JSON_DOCUMENT_BYTES, then
 * validated item by item with the shared DTOs: a bad item is recorded with its line and field path and
 * the INVALID_ROWS policy decides; good items go to their table in set-based batches.
 */
@Injectable()
export class JsonDocumentLoader implements KindLoader {
  readonly kinds: readonly FileKind[] = DOCUMENT_KINDS;

  async load(client: PoolClient, fileId: string, kind: FileKind, open: () => NodeJS.ReadableStream, opts: LoadOptions): Promise<LoadResult> {
    if (!isDocumentKind(kind)) throw new Error(`JsonDocumentLoader cannot load ${kind}`);
    return runRecordLoad(client, fileId, opts, async (counter) => {
      const stream = open();
      let parsed: Awaited<ReturnType<typeof readJsonDocument>>;
      try {
        parsed = await readJsonDocument(stream, { maxBytes: opts.maxJsonDocumentBytes, maxDepth: opts.maxJsonDepth });
      } finally {
        destroy(stream);
      }
      if ('reject' in parsed) return { fileRejection: parsed.reject };
      const items = documentItems(kind, parsed.value);
      if (!Array.isArray(items)) {
        const line = parsed.lineOf(items.path);
        return { fileRejection: { rule: items.rule, message: `line ${line}: ${items.message}`, line, ...(items.field ? { column: items.field } : {}), ...(items.value !== null ? { value: items.value } : {}) } };
      }
      const sink = sinkFor(kind, client, await fileOrder(client, fileId));
      const key = DOCUMENT_ITEMS_KEY[kind];
      for (let i = 0; i < items.length; i++) {
        const path: JsonPath = key === null ? [] : [key, i];
        const problems = validateItem(kind, items[i], path);
        if (problems.length) {
          if (counter.reject(itemReject(problems, parsed.lineOf, items[i]))) return { stopped: true };
          continue;
        }
        counter.good();
        await sink.add(items[i], parsed.lineOf(path));
      }
      await sink.finish();
      return { written: sink.written };
    });
  }
}

function isDocumentKind(kind: FileKind): kind is DocumentKind {
  return (DOCUMENT_KINDS as readonly FileKind[]).includes(kind);
}

function sinkFor(kind: DocumentKind, client: PoolClient, file: FileOrder): RecordSink<unknown> {
  switch (kind) {
    case 'vehicle_status':
      return new VehicleStatusSink(client, file) as RecordSink<VehicleStatusItemDto> as RecordSink<unknown>;
    case 'detections':
      return new DetectionSink(client, file) as RecordSink<DetectionEventItemDto> as RecordSink<unknown>;
    case 'measurement':
      return new MeasurementSink(client, file) as RecordSink<MeasurementDto> as RecordSink<unknown>;
  }
}
