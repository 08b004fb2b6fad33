export * from './lib/file-processor.service';
export * from './lib/processor.consumer';
export * from './lib/processor.module';
