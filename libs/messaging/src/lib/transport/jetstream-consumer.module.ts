import { type DynamicModule, type InjectionToken, Module } from '@nestjs/common';
import { JetStreamService } from '../jetstream.service';
import { AttemptPolicy } from './attempt-policy';
import { JetStreamServer, type JetStreamServerOptions } from './jetstream.server';

const CONSUMER_OPTIONS = Symbol('JetStreamConsumerOptions');

/**
 * The JetStreamServer of a service that consumes (its `@EventPattern` handlers), for main.ts to connect as the
 * microservice strategy, and its AttemptPolicy, so the handlers judge attempts by the very policy the consumer
 * was made with. Needs MessagingModule; `inject` lists what `useFactory` needs to compute the options.
 */
@Module({})
export class JetStreamConsumerModule {
  static forRoot(options: JetStreamServerOptions): DynamicModule {
    return JetStreamConsumerModule.forRootAsync({ useFactory: () => options });
  }

  static forRootAsync<A extends unknown[]>({ inject = [], useFactory }: { inject?: InjectionToken[]; useFactory: (...args: A) => JetStreamServerOptions }): DynamicModule {
    return {
      module: JetStreamConsumerModule,
      providers: [
        { provide: CONSUMER_OPTIONS, inject, useFactory: (...args: A) => useFactory(...args) },
        { provide: JetStreamServer, inject: [JetStreamService, CONSUMER_OPTIONS], useFactory: (js: JetStreamService, options: JetStreamServerOptions) => new JetStreamServer(js, options) },
        { provide: AttemptPolicy, inject: [CONSUMER_OPTIONS], useFactory: (options: JetStreamServerOptions) => options.attempts },
      ],
      exports: [JetStreamServer, AttemptPolicy],
    };
  }
}
