export * from './lib/file-readiness.util';
export * from './lib/watcher.module';
