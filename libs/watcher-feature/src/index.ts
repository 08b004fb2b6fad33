export * from './lib/watcher.module';
