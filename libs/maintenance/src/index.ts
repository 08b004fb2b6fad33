export * from './lib/maintenance.types';
export * from './lib/maintenance.job';
export * from './lib/maintenance.report';
export * from './lib/maintenance.module';
