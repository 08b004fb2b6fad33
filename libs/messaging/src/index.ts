export * from './lib/consumer-runner';
export * from './lib/jetstream.service';
export * from './lib/messaging.module';
