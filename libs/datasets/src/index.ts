export * from './lib/contract';
export * from './lib/read/read-contract';
export * from './lib/read/contract-catalog';
export { IDENTIFIER, LINEAGE_COLUMNS, RESERVED_WORDS, SLUICE_TABLES, identifierProblem, columnNameProblem, tableNameProblem } from './lib/read/identifiers';
export { NAMED_FORMATS, DEFAULT_FORMATS, isNaiveFormat, timestampFormatProblem, timeZoneProblem } from './lib/read/timestamp-formats';
export { MAX_ALIAS_COUNT, MAX_NESTING, formatPath, type FieldPath } from './lib/read/yaml-source';
export { MAX_COLUMNS, MAX_ENUM_VALUES, MAX_FORMATS, MAX_FORMAT_LENGTH, MAX_GLOB_LENGTH, MAX_KEY_COLUMNS, MAX_PATTERN_LENGTH, MAX_SKIP_LINES, MAX_TEXT_LENGTH } from './lib/read/contract-file.dto';
