import { HttpStatus } from '@nestjs/common';
import { DOCUMENT_KINDS, detectionHead, detectKind, duplicateKeys, JsonSyntaxError, parseJson, validateDocument, validateLine, type DocumentKind, type DocumentProblem } from '@sluice/formats';
import { ApiException } from '@sluice/http';

/** Problems listed in a 422 answer; the message counts them all. */
export const MAX_PROBLEMS_SHOWN = 20;

export type PayloadKind = DocumentKind | 'ndjson';

export interface PayloadCheck {
  kind: PayloadKind;
  /** Items (document items or NDJSON lines) in the payload. */
  items: number;
}

export interface FieldProblem {
  /** 1-based NDJSON line; absent for a JSON document. */
  line?: number;
  field: string;
  rule: string;
  message: string;
  value: string | null;
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Checks a JSON document body the way the processor will read it (same kind detection, same DTOs),
 * so a client learns at once what the processor would reject: 400 for bytes that are not JSON (with the
 * line and column), 422 naming each field and rule for a shape the processor would refuse.
 */
export function checkJsonDocument(body: Buffer, maxDepth: number): PayloadCheck {
  const text = decodeUtf8(body);
  const value = parse(text, maxDepth, 1);
  const detected = detectKind(detectionHead(body, body.length), 'the body');
  if ('reject' in detected) throw unprocessable(detected.reject.message, [{ field: '', rule: detected.reject.rule, message: detected.reject.message, value: null }]);
  if (detected.kind === 'ndjson') {
    const message = 'the body is a JSON object with a "kind" field, which is how NDJSON lines are routed; send NDJSON with Content-Type: application/x-ndjson, or drop "kind" from the document';
    throw unprocessable(message, [{ field: 'kind', rule: 'unknown_field', message, value: null }]);
  }
  if (!(DOCUMENT_KINDS as readonly string[]).includes(detected.kind)) throw unprocessable(`the body is a ${detected.kind}, not a JSON document; upload it with POST /ingest/files`, []);
  const kind = detected.kind as DocumentKind;
  const problems = validateDocument(kind, value, duplicateKeys(text));
  if (problems.length) throw invalidDocument(`a ${kind} document`, problems.map(toField));
  const items = kind === 'measurement' ? 1 : ((value as Record<string, unknown[]>)[kind === 'vehicle_status' ? 'vehicle_status' : 'objects_detection_events']?.length ?? 0);
  return { kind, items };
}

/**
 * Checks an NDJSON body line by line (SPEC §4.5). The API is stricter than the processor's INVALID_ROWS
 * policy on purpose: a client that can fix and resend is told about every bad line (400 for a line that
 * is not JSON, 422 for a line of the wrong shape) and nothing is stored.
 */
export function checkNdjson(body: Buffer, maxDepth: number): PayloadCheck {
  const text = decodeUtf8(body);
  const problems: FieldProblem[] = [];
  let items = 0;
  let lineNo = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    lineNo++;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.trim() === '') continue;
    items++;
    const value = parse(line, maxDepth, lineNo);
    const result = validateLine(value, [], duplicateKeys(line));
    if ('problems' in result) for (const p of result.problems) problems.push({ line: lineNo, ...toField(p) });
  }
  if (items === 0) throw unprocessable('the NDJSON body has no lines; send one JSON object a line', []);
  if (problems.length) throw invalidDocument('NDJSON', problems);
  const first = detectKind(detectionHead(body, body.length), 'the body');
  if ('reject' in first || first.kind !== 'ndjson') {
    throw unprocessable('the first line of the NDJSON body must be a JSON object with a "kind" field on one line', [{ line: 1, field: 'kind', rule: 'missing_field', message: 'kind is missing', value: null }]);
  }
  return { kind: 'ndjson', items };
}

function decodeUtf8(body: Buffer): string {
  try {
    return decoder.decode(body);
  } catch {
    throw new ApiException(HttpStatus.BAD_REQUEST, 'invalid_json', 'the body is not valid UTF-8; send JSON encoded as UTF-8', { rule: 'invalid_utf8' });
  }
}

/** JSON.parse first (fast); on failure the position-aware parser says where (and reads NaN/Infinity so validation can name the field). */
function parse(text: string, maxDepth: number, firstLine: number): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    try {
      return parseJson(text, { maxDepth, firstLine }).value;
    } catch (e) {
      if (!(e instanceof JsonSyntaxError)) throw e;
      const where = `line ${e.line}, column ${e.column}`;
      throw new ApiException(HttpStatus.BAD_REQUEST, 'invalid_json', `malformed JSON at ${where}: ${e.message}`, { rule: e.rule, line: e.line, column: e.column });
    }
  }
}

function toField(p: DocumentProblem): FieldProblem {
  return { field: p.field, rule: p.rule, message: p.message, value: p.value };
}

function invalidDocument(what: string, problems: FieldProblem[]): ApiException {
  const first = problems[0];
  const where = first.line !== undefined ? `line ${first.line}: ` : '';
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  return unprocessable(`${what} the processor would reject: ${where}${first.message}${more}`, problems.slice(0, MAX_PROBLEMS_SHOWN));
}

function unprocessable(message: string, problems: FieldProblem[]): ApiException {
  return new ApiException(HttpStatus.UNPROCESSABLE_ENTITY, 'invalid_document', message, { problems });
}
