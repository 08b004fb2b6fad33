export * from './lib/contract';
export * from './lib/records/record-batch';
export * from './lib/records/read-records';
export * from './lib/records/record-columns';
