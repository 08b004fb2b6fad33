export * from './lib/jetstream.service';
export * from './lib/messaging.module';
export * from './lib/transport/jetstream.context';
export * from './lib/transport/jetstream.decorators';
export * from './lib/transport/jetstream.server';
export * from './lib/transport/attempt-policy';
export * from './lib/transport/jetstream.deserializer';
export * from './lib/transport/outcomes';
