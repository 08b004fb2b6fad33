import { applyDecorators, type ArgumentMetadata, ValidationPipe, type ValidationError } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { ApiException, type ParameterProblem } from './api-exception';

function problems(errors: ValidationError[], prefix = ''): ParameterProblem[] {
  return errors.flatMap((e) => {
    const parameter = prefix + e.property;
    const own = Object.values(e.constraints ?? {}).map((message) => ({ parameter, message }));
    return [...own, ...problems(e.children ?? [], `${parameter}.`)];
  });
}

/** PostgreSQL text cannot hold NUL: a query or path value with one is refused before it reaches SQL. */
function nulProblems(value: unknown, parameter: string): ParameterProblem[] {
  if (typeof value === 'string') return value.includes('\0') ? [{ parameter, message: 'must not contain a NUL character (%00)' }] : [];
  if (Array.isArray(value)) return value.flatMap((v) => nulProblems(v, parameter));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => (k.includes('\0') ? nulProblems(k, k) : nulProblems(v, k)));
  }
  return [];
}

class ApiValidationPipe extends ValidationPipe {
  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'query' || metadata.type === 'param') {
      const bad = nulProblems(value, metadata.data ?? 'query');
      if (bad.length > 0) throw ApiException.invalidParameters(bad);
    }
    return super.transform(value, metadata) as Promise<unknown>;
  }
}

/** Query, path and body validation: unknown parameters refused, values converted, errors name the parameter. */
export function createValidationPipe(): ValidationPipe {
  return new ApiValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    // One message per parameter: the first rule it breaks.
    stopAtFirstError: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => ApiException.invalidParameters(problems(errors)),
  });
}

/**
 * An optional integer query parameter in [min, max], in plain decimal digits: "0x10", "1e3" and " 5" are not
 * integers here, and a huge one is refused by `max` before it can overflow anything downstream.
 */
export function IntegerParam(min: number, max: number): PropertyDecorator {
  return applyDecorators(
    IsOptional(),
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' && /^-?\d{1,20}$/.test(value) ? Number(value) : value)),
    IsInt({ message: '$property must be an integer' }),
    Min(min),
    Max(max),
  );
}
