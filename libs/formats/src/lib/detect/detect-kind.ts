import type { FileKind, RejectReason } from '@sluice/contracts';
import { cutSequenceStart, decodeMarked, hasControlChars, INVALID_BYTE_MARK } from '../text/storable-text.util';
import { DETECT_HEAD_BYTES, DETECT_MAX_BLANK_BYTES } from './detection-head';
import type { Detection, KindDetector } from './detector';
import { jsonDetector } from './json.detector';
import { logDetector, looksBinary } from './log.detector';
import { ndjsonDetector } from './ndjson.detector';
import { sensorCsvDetector } from './sensor-csv.detector';

/** Tried in order; the first that answers wins. A new kind is a new detector in this list (the log kind, the fallback for other text, last). */
export const KIND_DETECTORS: readonly KindDetector[] = [ndjsonDetector, jsonDetector, sensorCsvDetector, logDetector];

/**
 * The kind of a file from its head (`detectionHead`: from its first byte that is not whitespace; the file name is only a hint for messages, and keeps a
 * `.csv`/`.json`… that is no known kind from being loaded as a log); a head shorter than DETECT_HEAD_BYTES
 * is taken as the whole file. Bytes that are not text refuse the file only when no kind is recognised:
 * inside a record of a known kind they are that record's row error.
 */
export function detectKind(head: Buffer, fileName: string, detectors: readonly KindDetector[] = KIND_DETECTORS): Detection {
  const complete = head.length < DETECT_HEAD_BYTES;
  // A character cut at the end of the head is not counted as invalid.
  const text = decodeMarked(complete ? head : head.subarray(0, cutSequenceStart(head)));
  if (text.trim() === '') {
    if (complete) return reject('empty_file', `${fileName} is empty (or holds only whitespace).`);
    return reject('unrecognized_format', `${fileName} holds nothing but whitespace in its first ${DETECT_MAX_BLANK_BYTES / 1024 / 1024} MiB; detection looks no further for content.`);
  }
  const input = { text, fileName, complete };
  for (const d of detectors) {
    const found = d.detect(input);
    if (found) return found;
  }
  const binary = () => reject('unrecognized_format', `${fileName} looks binary; expected CSV, JSON, NDJSON or plain text.`);
  if (looksBinary(text)) return binary();
  if (text.includes(INVALID_BYTE_MARK)) return reject('invalid_utf8', `${fileName} is not valid UTF-8 text; save it as UTF-8 and drop it again.`);
  // Control characters in a file named as structured data mean binary content.
  if (hasControlChars(text)) return binary();
  return reject(
    'unrecognized_format',
    `${fileName} is not a known format: expected a sensor CSV header (ts,device,…; timestamp;sensor_uuid;sensor_value; sensor_uuid;sensor_name), a JSON document or NDJSON (other text is loaded as a log, but not under a .csv, .tsv, .json, .ndjson, .jsonl or .xml name).`,
  );
}

export function isKind(d: Detection): d is { kind: FileKind } {
  return 'kind' in d;
}

function reject(rule: string, message: string): { reject: RejectReason } {
  return { reject: { rule, message } };
}
