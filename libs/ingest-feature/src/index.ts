export * from './lib/ingest-api.module';
export * from './lib/seed-payload.example';
