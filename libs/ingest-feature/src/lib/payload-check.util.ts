import { HttpStatus } from '@nestjs/common';
import {
  DOCUMENT_KINDS,
  detectionHead,
  detectKind,
  duplicateKeys,
  formatPath,
  JsonSyntaxError,
  LINE_KINDS,
  parseJson,
  validateDocument,
  validateLine,
  type DocumentKind,
  type DocumentProblem,
} from '@sluice/formats';
import { ApiException } from '@sluice/http';

/** Problems listed in a 422 answer; the message counts them all. */
export const MAX_PROBLEMS_SHOWN = 20;

export type PayloadKind = DocumentKind | 'ndjson';

export interface PayloadCheck {
  kind: PayloadKind;
  /** Items (document items or NDJSON lines) in the payload. */
  items: number;
  /** NDJSON lines of a data contract's kind: the contract that takes them. */
  contract?: string;
}

/** The data contracts in force that take NDJSON lines by their `kind` (their `inputs.kind`). */
export interface ContractKinds {
  /** The names of the contracts taking a kind: none, one, or several (ambiguous). */
  taking(kind: string): string[];
  /** Every kind the contracts in force take, sorted. */
  kinds(): string[];
}

export const NO_CONTRACT_KINDS: ContractKinds = { taking: () => [], kinds: () => [] };

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
 *
 * A line whose kind is a data contract's (`inputs.kind`) is checked as far as is cheap here: an object, no
 * field twice, one contract taking the kind; its values are the contract's to check when it loads. One body
 * goes to one contract, so such lines may not be mixed with other kinds (`mixed_kinds`).
 */
export function checkNdjson(body: Buffer, maxDepth: number, contracts: ContractKinds = NO_CONTRACT_KINDS): PayloadCheck {
  const text = decodeUtf8(body);
  const problems: FieldProblem[] = [];
  /** The kind each line names (null: none), to find a contract's kind beside others. */
  const kinds: Array<{ line: number; kind: string | null }> = [];
  let contract: string | undefined;
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
    const kind = kindOf(value);
    kinds.push({ line: lineNo, kind });
    const taking = kind === null || (LINE_KINDS as readonly string[]).includes(kind) ? [] : contracts.taking(kind);
    if (kind !== null && taking.length) {
      contract = taking[0];
      for (const path of duplicateKeys(line)) {
        problems.push({ line: lineNo, field: formatPath(path), rule: 'duplicate_key', message: `${formatPath(path)} is given twice; give each field once`, value: null });
      }
      if (taking.length > 1) {
        const message = `kind ${JSON.stringify(kind)} is taken by ${taking.length} data contracts (${taking.join(', ')}); give one of them that inputs.kind`;
        problems.push({ line: lineNo, field: 'kind', rule: 'contract_ambiguous', message, value: kind });
      }
      continue;
    }
    const result = validateLine(value, [], duplicateKeys(line));
    if ('problems' in result) for (const p of result.problems) problems.push({ line: lineNo, ...toField(p.rule === 'unknown_kind' ? withContractKinds(p, contracts) : p) });
  }
  if (items === 0) throw unprocessable('the NDJSON body has no lines; send one JSON object a line', []);
  if (contract !== undefined) problems.push(...mixedKinds(kinds));
  if (problems.length) throw invalidDocument('NDJSON', problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)));
  const first = detectKind(detectionHead(body, body.length), 'the body');
  if ('reject' in first || first.kind !== 'ndjson') {
    throw unprocessable('the first line of the NDJSON body must be a JSON object with a "kind" field on one line', [{ line: 1, field: 'kind', rule: 'missing_field', message: 'kind is missing', value: null }]);
  }
  return contract === undefined ? { kind: 'ndjson', items } : { kind: 'ndjson', items, contract };
}

/** A line's `kind`, when it names one. */
function kindOf(value: unknown): string | null {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  const kind = (value as { kind?: unknown }).kind;
  return typeof kind === 'string' ? kind : null;
}

/** The lines whose kind is not the first line's, in a body of a contract's kind (a line naming none is refused already). */
function mixedKinds(kinds: ReadonlyArray<{ line: number; kind: string | null }>): FieldProblem[] {
  const first = kinds.find((k) => k.kind !== null) as { line: number; kind: string };
  return kinds
    .filter((k) => k.kind !== null && k.kind !== first.kind)
    .map((k) => ({
      line: k.line,
      field: 'kind',
      rule: 'mixed_kinds',
      message: `the line is of kind ${JSON.stringify(k.kind)}, but the body is of kind ${JSON.stringify(first.kind)} (line ${first.line}); one body of a data contract's kind holds that kind alone, send each kind in a body of its own`,
      value: k.kind,
    }));
}

/** An unknown kind's problem, naming the kinds the data contracts in force take too. */
function withContractKinds(p: DocumentProblem, contracts: ContractKinds): DocumentProblem {
  const kinds = contracts.kinds();
  const taken = kinds.length ? `; data contracts in force take ${kinds.join(', ')}` : '; no data contract in force takes a kind (inputs.kind)';
  return { ...p, message: `${p.message}${taken}` };
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
