export * from './lib/ingest-api.module';
