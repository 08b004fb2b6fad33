export * from './lib/contract';
export * from './lib/infer/values';
export * from './lib/infer/infer-column';
