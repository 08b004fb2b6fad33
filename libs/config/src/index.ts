export * from './lib/app-configs';
export * from './lib/config.module';
export * from './lib/load-config';
export * from './lib/parsers';
export * from './lib/cli-config';
export * from './lib/s3-sources';
export * from './lib/schedule';
export * from './lib/retention-config';
