import type { FileKind, RejectReason } from '@sluice/contracts';
import type { Detection, KindDetector } from './detector';
import { jsonDetector } from './json.detector';
import { ndjsonDetector } from './ndjson.detector';
import { sensorCsvDetector } from './sensor-csv.detector';

/** Tried in order; the first that answers wins. A new kind is a new detector in this list. */
export const KIND_DETECTORS: readonly KindDetector[] = [ndjsonDetector, jsonDetector, sensorCsvDetector];

/** How many bytes of a file `detectKind` wants to see. */
export const DETECT_HEAD_BYTES = 64 * 1024;

/**
 * The kind of a file from its first bytes (the file name is only a hint for messages). Pass at most
 * DETECT_HEAD_BYTES; a shorter head is taken as the whole file.
 */
export function detectKind(head: Buffer, fileName: string, detectors: readonly KindDetector[] = KIND_DETECTORS): Detection {
  let text: string;
  try {
    // stream: true (never flushed) keeps a character cut at the end of the head from counting as invalid.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(head, { stream: true });
  } catch {
    return reject('invalid_utf8', `${fileName} is not valid UTF-8 text; save it as UTF-8 and drop it again.`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') return reject('empty_file', `${fileName} is empty (or holds only whitespace).`);
  // Control characters other than tab/CR/LF mean binary content.
  if (hasControlChars(text)) {
    return reject('unrecognized_format', `${fileName} looks binary; expected CSV, JSON or NDJSON text.`);
  }
  const input = { text, fileName, complete: head.length < DETECT_HEAD_BYTES };
  for (const d of detectors) {
    const found = d.detect(input);
    if (found) return found;
  }
  return reject(
    'unrecognized_format',
    `${fileName} is not a known format: expected a sensor CSV header (ts,device,…; timestamp;sensor_uuid;sensor_value; sensor_uuid;sensor_name), a JSON document or NDJSON.`,
  );
}

export function isKind(d: Detection): d is { kind: FileKind } {
  return 'kind' in d;
}

function reject(rule: string, message: string): { reject: RejectReason } {
  return { reject: { rule, message } };
}

function hasControlChars(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return true;
  }
  return false;
}
