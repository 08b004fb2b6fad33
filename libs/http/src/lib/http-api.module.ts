import { type DynamicModule, Inject, type MiddlewareConsumer, Module, type NestMiddleware, type NestModule, type Type } from '@nestjs/common';
import { loadConfig } from '@sluice/config';
import { apiProviders, assertApiKeysConfigured, type ApiKeySettings } from './api-providers';
import { HttpMetricsMiddleware } from './http-metrics.middleware';

const MIDDLEWARE = Symbol('HTTP_API_MIDDLEWARE');

export interface HttpApiOptions<C extends object> {
  /** The API's config class (provided by ConfigModule), loaded from `env` to check its keys. */
  config: new () => C;
  env?: NodeJS.ProcessEnv;
  keys(config: C): ApiKeySettings;
  /** Middleware for every route, after the request metrics. */
  middleware?: Array<Type<NestMiddleware>>;
}

/**
 * What every Sluice API sets up alike: the global error filter, validation pipe and API-key guard
 * (apiProviders), and request metrics on every route. forRoot throws a ConfigError (naming the variable)
 * when the API has no keys and is not explicitly anonymous, before anything starts.
 */
@Module({})
export class HttpApiModule implements NestModule {
  constructor(@Inject(MIDDLEWARE) private readonly middleware: Array<Type<NestMiddleware>>) {}

  static forRoot<C extends object>({ config, env = process.env, keys, middleware = [] }: HttpApiOptions<C>): DynamicModule {
    assertApiKeysConfigured(keys(loadConfig(config, env)));
    return {
      module: HttpApiModule,
      providers: [...apiProviders(config, keys), { provide: MIDDLEWARE, useValue: [HttpMetricsMiddleware, ...middleware] }],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(...this.middleware).forRoutes('{*path}');
  }
}
