export * from './lib/contract';
export * from './lib/infer/values';
export * from './lib/infer/infer-column';
export * from './lib/infer/sniff-csv';
export * from './lib/infer/record-columns';
export * from './lib/infer/glob';
export * from './lib/infer/infer-contract';
export * from './lib/drift/column-diff';
