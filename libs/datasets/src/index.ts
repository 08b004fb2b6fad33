export * from './lib/contract';
export * from './lib/records/record-batch';
export * from './lib/records/read-records';
export * from './lib/records/record-columns';
export type { ColumnContext, ColumnValue, ColumnValueParser, ContractRule, ValueProblem } from './lib/values/column-value';
export { copyText } from './lib/values/column-value';
export { compileColumn } from './lib/values/compile-column';
export { type LocalToUtcResult, type WallTime, isKnownZone, localToUtc } from './lib/values/local-to-utc';
export { timeFormatProblem } from './lib/values/times';
