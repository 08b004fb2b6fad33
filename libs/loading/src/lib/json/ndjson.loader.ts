import { Injectable } from '@nestjs/common';
import type { FileKind, RowsByTable } from '@sluice/contracts';
import {
  cap,
  DEFAULT_MAX_JSON_DEPTH,
  JsonSyntaxError,
  duplicateKeys,
  parseJson,
  RAW_CAP,
  readLines,
  validateLine,
  type DetectionLineDto,
  type MeasurementLineDto,
  type SensorReadingLineDto,
  type VehicleStatusLineDto,
} from '@sluice/formats';
import type { PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import type { KindLoader, LoadOptions, LoadResult } from '../kind-loader';
import { SensorRegistry } from '../sensor/sensor-registry';
import { destroy } from '../load-stream';
import { fileOrder, itemReject, lateRecordProblem, placeReject, runRecordLoad, unreadableLine } from './record-load';
import { DetectionSink, MeasurementSink, SensorReadingSink, VehicleStatusSink } from './record-sinks';

/** Longest NDJSON line accepted by default (a line is one record). */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

/**
 * NDJSON (SPEC §4.5): streamed line by line (never more than one line in memory), each line validated
 * with the DTO of its `kind` and routed to that kind's sink; a bad line is recorded with its number.
 */
@Injectable()
export class NdjsonLoader implements KindLoader {
  readonly kinds: readonly FileKind[] = ['ndjson'];
  private readonly sensors: SensorRegistry;

  constructor(ds: DataSource) {
    this.sensors = new SensorRegistry(ds);
  }

  async load(client: PoolClient, fileId: string, kind: FileKind, open: () => NodeJS.ReadableStream, opts: LoadOptions): Promise<LoadResult> {
    if (kind !== 'ndjson') throw new Error(`NdjsonLoader cannot load ${kind}`);
    return runRecordLoad(client, fileId, opts, async (counter) => {
      const file = await fileOrder(client, fileId);
      const sinks = {
        vehicle_status: new VehicleStatusSink(client, file),
        detection: new DetectionSink(client, file),
        measurement: new MeasurementSink(client, file),
        sensor_reading: new SensorReadingSink(client, file, this.sensors),
      };
      const maxLine = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
      const stream = open();
      try {
        for await (const batch of readLines(stream, maxLine)) {
          for (const raw of batch) {
            if ('error' in raw) {
              if (counter.reject(unreadableLine(raw, maxLine))) return { stopped: true };
              continue;
            }
            if (raw.text.trim() === '') continue;
            let parsed: ReturnType<typeof parseJson>;
            try {
              parsed = parseJson(raw.text, { maxDepth: opts.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH, firstLine: raw.line });
            } catch (e) {
              if (!(e instanceof JsonSyntaxError)) throw e;
              const r = { line: raw.line, column: String(e.column), rule: e.rule, message: `line ${raw.line}: the line is not usable JSON: ${e.message}`, value: null, raw: cap(raw.text, RAW_CAP) };
              if (counter.reject(r)) return { stopped: true };
              continue;
            }
            let v = validateLine(parsed.value, [], duplicateKeys(raw.text));
            if (!('problems' in v)) {
              const late = lateRecordProblem(v.kind, v.line, [], opts);
              if (late) v = { problems: [late] };
            }
            if ('problems' in v) {
              const r = itemReject(v.problems, parsed.value);
              placeReject(r, raw.line);
              if (counter.reject(r)) return { stopped: true };
              continue;
            }
            counter.good();
            switch (v.kind) {
              case 'vehicle_status':
                await sinks.vehicle_status.add(v.line as VehicleStatusLineDto, raw.line);
                break;
              case 'detection':
                await sinks.detection.add(v.line as DetectionLineDto, raw.line);
                break;
              case 'measurement':
                await sinks.measurement.add(v.line as MeasurementLineDto, raw.line);
                break;
              case 'sensor_reading':
                await sinks.sensor_reading.add(v.line as SensorReadingLineDto, raw.line);
                break;
            }
          }
        }
      } finally {
        destroy(stream);
      }
      const written: RowsByTable = {};
      for (const sink of Object.values(sinks)) {
        await sink.finish();
        written[sink.table] = sink.written;
      }
      return { written };
    });
  }
}
