export * from './lib/bootstrap';
export * from './lib/observability.module';
export * from './lib/readiness.registry';
export * from './lib/periodic-jobs.service';
export * from './lib/start-checks';
export * from './lib/startup-garbage';
