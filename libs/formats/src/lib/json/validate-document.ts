import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { getMetadataStorage, validateSync, ValidationTypes, type ValidationError } from 'class-validator';
import { cap, magnitudeProblem, sensorNameProblem, VALUE_CAP } from '../sensor/sensor-record';
import { textProblem, textProblemMessage, type TextRule } from '../text/storable-text.util';
import {
  DetectionEventItemDto,
  DetectionLineDto,
  isStorableNumber,
  isTimestampWithOffset,
  LINE_KINDS,
  MEASUREMENT_MAX_SAMPLES,
  MeasurementDto,
  MeasurementLineDto,
  SensorReadingLineDto,
  VehicleStatusItemDto,
  VehicleStatusLineDto,
  type LineKind,
  type NdjsonLineDto,
} from './document.dto';
import type { StreamedDocument } from './item-stream';
import { formatPath, type JsonPath } from './json-parser';

/** JSON document kinds (SPEC §4.2–4.4), named like their FileKind. */
export const DOCUMENT_KINDS = ['vehicle_status', 'detections', 'measurement'] as const;
export type DocumentKind = (typeof DOCUMENT_KINDS)[number];

/** Top-level key holding the items of a document; a measurement document is itself the one item. */
export const DOCUMENT_ITEMS_KEY: Record<DocumentKind, string | null> = {
  vehicle_status: 'vehicle_status',
  detections: 'objects_detection_events',
  measurement: null,
};

/** Rule codes of a refused JSON item or NDJSON line. */
export type ItemRule =
  | 'invalid_document'
  | 'invalid_type'
  | 'missing_field'
  | 'unknown_field'
  | 'unknown_kind'
  | 'empty_value'
  | 'too_long'
  | 'invalid_timestamp'
  | 'not_a_number'
  | 'not_an_integer'
  | 'out_of_range'
  | 'empty_array'
  | 'too_many_items'
  | 'duplicate_key'
  | 'late_beyond_retention'
  | TextRule;

/** One thing wrong with a document: where (as a path), which rule, a sentence naming the field, the value. */
export interface DocumentProblem {
  path: JsonPath;
  /** `vehicle_status[2].report_time` */
  field: string;
  rule: ItemRule;
  message: string;
  /** The offending value as JSON text, capped; null when the field is missing. */
  value: string | null;
}

const ITEM_CLASS: Record<DocumentKind, ClassConstructor<object>> = {
  vehicle_status: VehicleStatusItemDto,
  detections: DetectionEventItemDto,
  measurement: MeasurementDto,
};

const LINE_CLASS: Record<LineKind, ClassConstructor<NdjsonLineDto>> = {
  vehicle_status: VehicleStatusLineDto,
  detection: DetectionLineDto,
  measurement: MeasurementLineDto,
  sensor_reading: SensorReadingLineDto,
};

/**
 * Every problem of a whole JSON document of `kind` (shape and each item), with field paths. The ingest
 * API uses it for request bodies; an empty list means the document is valid.
 */
export function validateDocument(kind: DocumentKind, json: unknown, duplicates: readonly JsonPath[] = []): DocumentProblem[] {
  const key = DOCUMENT_ITEMS_KEY[kind];
  if (key === null) return validateItem(kind, json, [], duplicates);
  // The items key given twice: the document is refused whole, as when its items are streamed.
  if (duplicates.some((p) => p.length === 1 && p[0] === key)) return [problem([key], 'invalid_document', `${key} appears more than once in the document`, undefined)];
  const items = documentItems(kind, json);
  if (!Array.isArray(items)) return [items];
  const out: DocumentProblem[] = [];
  const within = (i: number) => duplicates.filter((p) => p[0] === key && p[1] === i).map((p) => p.slice(2));
  items.forEach((item, i) => out.push(...validateItem(kind, item, [key, i], within(i))));
  return out;
}

/**
 * The items of a document after checking its outer shape: the array under the kind's key (the document
 * itself for a measurement), or the problem that makes the whole document unusable.
 */
export function documentItems(kind: DocumentKind, json: unknown): unknown[] | DocumentProblem {
  if (!isPlainObject(json)) return problem([], 'invalid_document', `the document must be a JSON object, found ${describe(json)}`, json);
  const key = DOCUMENT_ITEMS_KEY[kind];
  if (key === null) return [json];
  const extra = Object.keys(json).filter((k) => k !== key);
  if (extra.length) return problem([extra[0]], 'unknown_field', `${extra[0]} is not a known field of a ${kind} document (only "${key}" is); remove it`, json[extra[0]]);
  const items = json[key];
  if (!Array.isArray(items)) return problem([key], 'invalid_document', `${key} must be a list of items, found ${describe(items)}`, items);
  return items;
}

/**
 * The outer shape of a document whose items were streamed (`streamDocumentItems`): null when it was
 * `{"<key>": [...]}` and nothing else, else the problem that makes the whole document unusable.
 */
export function streamedShapeProblem(kind: DocumentKind, doc: StreamedDocument): DocumentProblem | null {
  const key = DOCUMENT_ITEMS_KEY[kind];
  if (key === null) throw new Error(`${kind} documents are not streamed`);
  if (!isPlainObject(doc.top)) return problem([], 'invalid_document', `the document must be a JSON object, found ${describe(doc.top)}`, doc.top);
  const extra = Object.keys(doc.top).filter((k) => k !== key);
  if (extra.length) return problem([extra[0]], 'unknown_field', `${extra[0]} is not a known field of a ${kind} document (only "${key}" is); remove it`, doc.top[extra[0]]);
  if (doc.repeatedKey) return problem([key], 'invalid_document', `${key} appears more than once in the document`, null);
  if (doc.streamed) return null;
  if (!(key in doc.top)) return problem([key], 'missing_field', `${key} is missing`, undefined);
  return problem([key], 'invalid_document', `${key} must be a list of items, found ${describe(doc.top[key])}`, doc.top[key]);
}

/**
 * Problems of one item of a document; `base` is its path in the document (for messages), `duplicates` the
 * paths (within the item) of members its text names twice (`duplicateKeys`), refused first.
 */
export function validateItem(kind: DocumentKind, item: unknown, base: JsonPath = [], duplicates: readonly JsonPath[] = []): DocumentProblem[] {
  return [...duplicateKeyProblems(duplicates, base), ...validateAs(ITEM_CLASS[kind], item, base)];
}

/**
 * A member named twice in one object: JSON.parse would keep the last value without a word, so the record
 * is refused as `duplicate_key` (a document giving its items key twice is refused whole, see validateDocument).
 */
export function duplicateKeyProblems(paths: readonly JsonPath[], base: JsonPath = []): DocumentProblem[] {
  return paths.map((p) => {
    const path = [...base, ...p];
    return problem(path, 'duplicate_key', `${formatPath(path)} is given more than once in its object; give each field once`, undefined);
  });
}

/** An NDJSON line (SPEC §4.5) routed by its `kind`: the typed line, or its problems (`duplicates` as for validateItem). */
export function validateLine(value: unknown, base: JsonPath = [], duplicates: readonly JsonPath[] = []): { kind: LineKind; line: NdjsonLineDto } | { problems: DocumentProblem[] } {
  const typed = validateLineShape(value, base);
  if (!duplicates.length) return typed;
  return { problems: [...duplicateKeyProblems(duplicates, base), ...('problems' in typed ? typed.problems : [])] };
}

function validateLineShape(value: unknown, base: JsonPath): { kind: LineKind; line: NdjsonLineDto } | { problems: DocumentProblem[] } {
  if (!isPlainObject(value)) return { problems: [problem(base, 'invalid_type', `the line must be a JSON object, found ${describe(value)}`, value)] };
  const kind = value['kind'];
  if (typeof kind !== 'string' || !(LINE_KINDS as readonly string[]).includes(kind)) {
    const what = kind === undefined ? 'kind is missing' : `kind ${cap(JSON.stringify(kind) ?? '', VALUE_CAP)} is not known`;
    return { problems: [problem([...base, 'kind'], kind === undefined ? 'missing_field' : 'unknown_kind', `${what}; expected one of ${LINE_KINDS.join(', ')}`, kind)] };
  }
  const problems = validateAs(LINE_CLASS[kind as LineKind], value, base);
  if (problems.length) return { problems };
  return { kind: kind as LineKind, line: value as unknown as NdjsonLineDto };
}

/** Whether validating `cls` needs class-transformer's instances of nested DTOs (@ValidateNested with @Type); by class. */
const NESTED = new Map<ClassConstructor<object>, boolean>();

function hasNested(cls: ClassConstructor<object>): boolean {
  let nested = NESTED.get(cls);
  if (nested === undefined) {
    nested = getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false).some((m) => m.type === ValidationTypes.NESTED_VALIDATION);
    NESTED.set(cls, nested);
  }
  return nested;
}

/**
 * What plainToInstance makes of a class of plain fields, without copying its values: class-transformer copied every
 * element of a measurement's data, most of what validating one cost (validation reads the item, never writes it).
 * Like class-transformer, it leaves out the members `__proto__` and `constructor`, and assigning `__proto__`
 * would replace the instance's prototype.
 */
function shallowInstance(cls: ClassConstructor<object>, item: Record<string, unknown>): object {
  const instance = Object.create(cls.prototype) as Record<string, unknown>;
  for (const key of Object.keys(item)) if (key !== '__proto__' && key !== 'constructor') instance[key] = item[key];
  return instance;
}

function validateAs(cls: ClassConstructor<object>, item: unknown, base: JsonPath): DocumentProblem[] {
  if (!isPlainObject(item)) return [problem(base, 'invalid_type', `${formatPath(base) || 'the item'} must be a JSON object, found ${describe(item)}`, item)];
  if (passesDirectCheck(cls, item)) return [];
  const instance = hasNested(cls) ? plainToInstance(cls, item) : shallowInstance(cls, item);
  const errors = validateSync(instance, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true, validationError: { target: false, value: true } });
  const out: DocumentProblem[] = [];
  collect(errors, base, out);
  return out;
}

/**
 * A measurement's fields: `time_stamp`, and `data` as MeasurementDto's decorators take it (IsDefined, IsArray,
 * ArrayNotEmpty, ArrayMaxSize, IsFiniteNumberArray).
 */
const isCleanMeasurement = (item: Record<string, unknown>): boolean => {
  const data = item['data'];
  return isTimestampWithOffset(item['time_stamp']) && Array.isArray(data) && data.length > 0 && data.length <= MEASUREMENT_MAX_SAMPLES && data.every(isStorableNumber);
};

/**
 * The DTOs of the commonest items (a measurement: most API bodies, NDJSON measurement lines), checked directly:
 * true only when the item has exactly the DTO's fields (whitelisted, none missing) and each passes its
 * decorators, so class-validator would find nothing. For the seed payload it took ~3.6 µs and left ~9 KB of
 * garbage to say so; this takes ~0.8 µs and ~1 KB. Anything else goes to class-validator, which alone words the
 * problems. validate-document.spec.ts holds each check to its DTO.
 */
const DIRECT_CHECKS = new Map<ClassConstructor<object>, (item: Record<string, unknown>) => boolean>([
  [MeasurementDto, (item) => Object.keys(item).length === 2 && isCleanMeasurement(item)],
  [MeasurementLineDto, (item) => Object.keys(item).length === 3 && item['kind'] === 'measurement' && isCleanMeasurement(item)],
]);

/** Whether `item` is known valid as `cls` without class-validator (see DIRECT_CHECKS); false says nothing. */
export function passesDirectCheck(cls: ClassConstructor<object>, item: Record<string, unknown>): boolean {
  return DIRECT_CHECKS.get(cls)?.(item) ?? false;
}

/** Most telling constraint first: one problem per field. */
const PRIORITY = [
  'isDefined',
  'whitelistValidation',
  'isIn',
  'isString',
  'isStorableText',
  'isArray',
  'nestedValidation',
  'isInt',
  'isFiniteNumber',
  'isTimestampWithOffset',
  'isLength',
  'isSensorName',
  'arrayNotEmpty',
  'arrayMaxSize',
  'isFiniteNumberArray',
  'min',
  'max',
];

function collect(errors: ValidationError[], base: JsonPath, out: DocumentProblem[]): void {
  for (const e of errors) collectChild(e, [...base, e.property], out);
}

/** Children of an array property are its elements: their "property" is the index. */
function collectChild(e: ValidationError, path: JsonPath, out: DocumentProblem[]): void {
  const names = Object.keys(e.constraints ?? {});
  if (names.length) {
    const name = PRIORITY.find((n) => names.includes(n)) ?? names[0];
    out.push(...explain(name, path, e.value, e.constraints ?? {}));
  }
  if (e.children?.length) {
    const arrayParent = Array.isArray(e.value);
    for (const c of e.children) collectChild(c, [...path, arrayParent && /^\d+$/.test(c.property) ? Number(c.property) : c.property], out);
  }
}

function explain(constraint: string, path: JsonPath, value: unknown, constraints: Record<string, string>): DocumentProblem[] {
  const f = formatPath(path);
  const shown = show(value);
  switch (constraint) {
    case 'isDefined':
      return [problem(path, 'missing_field', `${f} is missing`, undefined)];
    case 'whitelistValidation':
      return [problem(path, 'unknown_field', `${f} is not a known field; remove it`, value)];
    case 'isIn':
      return [problem(path, 'unknown_kind', `${f} ${shown} is not the expected kind`, value)];
    case 'isString':
      return [problem(path, 'invalid_type', `${f} must be a string, found ${describe(value)}`, value)];
    case 'isStorableText': {
      const rule = (typeof value === 'string' && textProblem(value)) || 'invalid_utf8';
      return [problem(path, rule, textProblemMessage(rule, f), value)];
    }
    case 'isArray':
      return [problem(path, 'invalid_type', `${f} must be a list, found ${describe(value)}`, value)];
    case 'nestedValidation':
      return [problem(path, 'invalid_type', `${f} must be a list of objects`, value)];
    case 'isInt':
      return typeof value === 'number' && Number.isFinite(value)
        ? [problem(path, 'not_an_integer', `${f} ${shown} is not a whole number`, value)]
        : [problem(path, 'invalid_type', `${f} must be a whole number, found ${describe(value)}`, value)];
    case 'isFiniteNumber':
      return [numberProblem(path, value)];
    case 'isTimestampWithOffset':
      return [
        problem(
          path,
          'invalid_timestamp',
          typeof value === 'string'
            ? `${f} ${shown} is not an ISO-8601 date-time with an offset (e.g. 2022-05-05T22:02:34.546Z or 2019-05-01T06:00:00-04:00)`
            : `${f} must be an ISO-8601 date-time string, found ${describe(value)}`,
          value,
        ),
      ];
    case 'isLength':
      return typeof value === 'string' && value.length === 0
        ? [problem(path, 'empty_value', `${f} is empty`, value)]
        : [problem(path, 'too_long', `${f} is ${typeof value === 'string' ? value.length : '?'} characters long: ${constraints[constraint]}`, value)];
    case 'isSensorName': {
      const name = typeof value === 'string' ? value : '';
      const tooLong = sensorNameProblem(name, f);
      return tooLong ? [problem(path, 'too_long', tooLong.message, value)] : [problem(path, 'empty_value', `${f} is empty`, value)];
    }
    case 'arrayNotEmpty':
      return [problem(path, 'empty_array', `${f} is empty; it needs at least one value`, value)];
    case 'arrayMaxSize':
      return [problem(path, 'too_many_items', `${f} has ${Array.isArray(value) ? value.length : '?'} items: ${constraints[constraint]}`, null)];
    case 'isFiniteNumberArray': {
      const out: DocumentProblem[] = [];
      const arr = Array.isArray(value) ? value : [];
      for (let i = 0; i < arr.length && out.length < 5; i++) {
        const x: unknown = arr[i];
        if (!isStorableNumber(x)) out.push(numberProblem([...path, i], x));
      }
      return out;
    }
    case 'min':
    case 'max':
      return [
        problem(
          path,
          'out_of_range',
          constraint === 'min' && typeof value === 'number' && value < 0 ? `${f} ${shown} is negative; it must be 0 or more` : `${f} ${shown} is out of range: ${constraints[constraint]}`,
          value,
        ),
      ];
    default:
      return [problem(path, 'invalid_type', `${f}: ${constraints[constraint] ?? 'invalid'}`, value)];
  }
}

/** Why a value is not a storable number: not a finite number at all, or beyond ±MAX_ABS_VALUE. */
function numberProblem(path: JsonPath, value: unknown): DocumentProblem {
  const f = formatPath(path);
  const huge = typeof value === 'number' && Number.isFinite(value) ? magnitudeProblem(value, f) : null;
  return huge ? problem(path, 'out_of_range', huge.message, value) : problem(path, 'not_a_number', `${f} must be a finite number, found ${describe(value)}`, value);
}

function problem(path: JsonPath, rule: ItemRule, message: string, value: unknown): DocumentProblem {
  return { path, field: formatPath(path), rule, message, value: value === undefined ? null : show(value) };
}

/** The value as JSON text (NaN and Infinity as such), capped. */
function show(value: unknown): string {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return cap(text, VALUE_CAP);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'number') return Number.isFinite(value) ? `the number ${value}` : String(value);
  if (typeof value === 'string') return `the string ${show(value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${show(value)}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
