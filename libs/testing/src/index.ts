// @sluice/contracts (stream names) carries decorated classes, which need the metadata polyfill first.
import 'reflect-metadata';
export * from './lib/nats-server';
export * from './lib/test-database';
export * from './lib/private-postgres';
export * from './lib/wait-for';
export * from './lib/stack';
export * from './lib/sensor-data';
export * from './lib/aggregates';
export * from './lib/browser';
export * from './lib/s3-server';
export * from './lib/s3-mid-read-relay';
export * from './lib/hostile-corpus';
export * from './lib/dashboard-truth';
export * from './lib/compressed-files';
export * from './lib/json-documents';
export * from './lib/hybrid-app';
export * from './lib/service-api';
export * from './lib/test-settings';
