export * from './lib/ledger.repository';
export * from './lib/sensor/aggregates.sql';
export * from './lib/sensor/sensor-csv.loader';
export { MAX_ROW_ERRORS } from './lib/sensor/row-tally';
