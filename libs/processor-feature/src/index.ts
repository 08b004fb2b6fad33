export * from './lib/processor.module';
