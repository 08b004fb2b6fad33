import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

function describe(errors: ValidationError[]): string[] {
  return errors.flatMap((e) => {
    const shown = e.value === undefined ? 'unset' : JSON.stringify(String(e.value));
    return Object.values(e.constraints ?? {}).map((c) => `${e.property} (${shown}): ${c}`);
  });
}

/**
 * Reads one config class from the environment and validates it; throws a ConfigError naming every
 * bad variable. This and the config classes are the only code that reads process.env.
 */
export function loadConfig<T extends object>(cls: new () => T, env: NodeJS.ProcessEnv = process.env): T {
  const plain: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') plain[k] = v;
  const config = plainToInstance(cls, plain, { enableImplicitConversion: false, exposeDefaultValues: true });
  const errors = validateSync(config, { whitelist: true, forbidUnknownValues: true });
  if (errors.length > 0) throw new ConfigError(describe(errors));
  return config;
}
