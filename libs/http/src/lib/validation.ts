import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { ApiException, type ParameterProblem } from './api-exception';

function problems(errors: ValidationError[], prefix = ''): ParameterProblem[] {
  return errors.flatMap((e) => {
    const parameter = prefix + e.property;
    const own = Object.values(e.constraints ?? {}).map((message) => ({ parameter, message }));
    return [...own, ...problems(e.children ?? [], `${parameter}.`)];
  });
}

/** Query, path and body validation: unknown parameters refused, values converted, errors name the parameter. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    // One message per parameter: the first rule it breaks.
    stopAtFirstError: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => ApiException.invalidParameters(problems(errors)),
  });
}
