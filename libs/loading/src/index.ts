export * from './lib/kind-loader';
export * from './lib/ledger.repository';
export * from './lib/loader-registry';
export * from './lib/json/json-document.loader';
export * from './lib/json/ndjson.loader';
export * from './lib/json/measurement-stats';
export * from './lib/sensor/aggregates.sql';
export * from './lib/sensor/sensor-csv.loader';
export { MAX_ROW_ERRORS } from './lib/sensor/row-tally';
