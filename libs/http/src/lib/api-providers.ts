import { Logger, type Provider } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE, Reflector } from '@nestjs/core';
import { ConfigError } from '@sluice/config';
import { ApiExceptionFilter } from './api-exception.filter';
import { ApiKeyGuard, DEFAULT_OPEN_PATHS } from './api-key.guard';
import { createValidationPipe } from './validation';

export interface ApiKeySettings {
  /** The API's name in messages, e.g. `query-api`. */
  api: string;
  /** The variable that holds this API's keys, e.g. `QUERY_API_KEYS`. */
  keysVariable: string;
  accepted: readonly string[];
  /** The other API's keys: recognised, then refused with 403. */
  foreign: readonly string[];
  allowAnonymous: boolean;
}

/** An API without keys serves everyone; that must be a deliberate choice (SPEC §6.1). */
export function assertApiKeysConfigured(s: ApiKeySettings): void {
  if (s.accepted.length === 0 && !s.allowAnonymous) {
    throw new ConfigError([
      `${s.keysVariable} (unset): no API key configured for ${s.api}; set ${s.keysVariable}=key1,key2 or, for local experiments only, ALLOW_ANONYMOUS=true`,
    ]);
  }
}

/**
 * What every Sluice API installs globally: the one JSON error format, the validation pipe (unknown or bad
 * parameters → 400 naming them), and the API-key guard.
 */
export function apiProviders<C>(configClass: new () => C, settings: (config: C) => ApiKeySettings): Provider[] {
  return [
    { provide: APP_FILTER, useClass: ApiExceptionFilter },
    { provide: APP_PIPE, useFactory: createValidationPipe },
    {
      provide: APP_GUARD,
      inject: [Reflector, configClass],
      useFactory: (reflector: Reflector, config: C) => {
        const s = settings(config);
        const anonymous = s.accepted.length === 0 && s.allowAnonymous;
        if (anonymous) new Logger(s.api).warn(`ALLOW_ANONYMOUS=true and no ${s.keysVariable}: every request is served without a key`);
        return new ApiKeyGuard(reflector, { acceptedKeys: s.accepted, foreignKeys: s.foreign, anonymous, openPaths: DEFAULT_OPEN_PATHS });
      },
    },
  ];
}
