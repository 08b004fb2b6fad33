export * from './lib/query-api.module';
export * from './lib/auth/api-key.guard';
export * from './lib/http/api-exception';
export * from './lib/http/api-exception.filter';
