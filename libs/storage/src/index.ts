export * from './lib/drop-folder';
export * from './lib/path-safety.util';
export * from './lib/storage.exception';
export * from './lib/storage.module';
