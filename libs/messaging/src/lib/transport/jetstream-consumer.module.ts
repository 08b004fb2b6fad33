import { type DynamicModule, type InjectionToken, Module } from '@nestjs/common';
import { JetStreamService } from '../jetstream.service';
import { JetStreamServer, type JetStreamServerOptions } from './jetstream.server';

/**
 * The JetStreamServer of a service that consumes (its `@EventPattern` handlers), for main.ts to connect as the
 * microservice strategy. Needs MessagingModule; `inject` lists what `useFactory` needs to compute the options.
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
        {
          provide: JetStreamServer,
          inject: [JetStreamService, ...inject],
          useFactory: (js: JetStreamService, ...args: A) => new JetStreamServer(js, useFactory(...args)),
        },
      ],
      exports: [JetStreamServer],
    };
  }
}
