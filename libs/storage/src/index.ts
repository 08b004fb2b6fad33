export * from './lib/drop-folder';
export * from './lib/path-safety.util';
export * from './lib/storage.exception';
export * from './lib/storage.module';
export * from './lib/file-reader';
export * from './lib/object-stores';
export * from './lib/s3-object-store';
export * from './lib/s3-stored-path.util';
