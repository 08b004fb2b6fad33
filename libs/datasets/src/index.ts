export * from './lib/contract';
export * from './lib/read/read-contract';
export * from './lib/read/contract-catalog';
export { IDENTIFIER, LINEAGE_COLUMNS, RESERVED_WORDS, SLUICE_TABLES, identifierProblem, columnNameProblem, tableNameProblem } from './lib/read/identifiers';
export { NAMED_FORMATS, DEFAULT_FORMATS, isNaiveFormat, timestampFormatProblem, timeZoneProblem } from './lib/read/timestamp-formats';
export { MAX_ALIAS_COUNT, formatPath, type FieldPath } from './lib/read/yaml-source';
