export * from './lib/contract';
export * from './lib/values/column-value';
export * from './lib/values/compile-column';
export * from './lib/values/local-to-utc';
