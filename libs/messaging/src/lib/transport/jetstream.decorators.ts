import { applyDecorators, Catch, Controller, ParseArrayPipe, UseFilters, UsePipes, ValidationPipe, type RpcExceptionFilter, type ValidationError, type ValidationPipeOptions } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { throwError, type Observable } from 'rxjs';
import { InvalidMessage } from './outcomes';


/** How handlers of a batch call many small payloads at once (see JetStreamServer). */
export interface BatchOptions<T = unknown> {
  /** Messages pulled ahead and merged into one call at most. */
  maxMessages: number;
  /** How long a call waits for more messages before it starts with fewer than `maxMessages`. */
  lingerMs: number;
  /**
   * Whether `next` still fits into a call that already holds `taken` (the first always does). It sees the
   * payloads as sent, before validation: a throw counts as "does not fit".
   */
  fits(taken: readonly T[], next: T): boolean;
}

/** The `extras` of `@EventPattern(subject, extras)` that the JetStream transport reads. */
export interface JetStreamHandlerOptions {
  /** A durable consumer of its own (default: the service's), so that this subject never waits behind others. */
  durable?: string;
  maxAckPending?: number;
  /** Handle messages waiting together in one call: the handler takes `@Payloads(Dto)`, an array. */
  batch?: BatchOptions<never>;
}

const problemsOf = (errors: ValidationError[] | string | string[]): string =>
  typeof errors === 'string' || (Array.isArray(errors) && errors.every((e) => typeof e === 'string'))
    ? [errors].flat().join('; ')
    : (errors as ValidationError[]).map((e) => `${e.property}: ${Object.values(e.constraints ?? {}).join(', ') || 'invalid'}`).join('; ');

/** Unknown properties dropped, DTO instances handed on, and a failure is an InvalidMessage (terminated). */
const MESSAGE_VALIDATION: ValidationPipeOptions = {
  whitelist: true,
  transform: true,
  validationError: { target: false, value: false },
  exceptionFactory: (errors: ValidationError[] | string) => new InvalidMessage(problemsOf(errors)),
};

/**
 * Nest's RPC exception handling turns any error into a generic `{status: 'error'}`; the transport needs the
 * error itself (retry, terminate, or give up and say why), so handlers' errors pass through unchanged.
 */
@Catch()
class PassErrorsToTransport implements RpcExceptionFilter {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}

/** A class of `@EventPattern` handlers for the JetStream transport: payloads validated, errors handed to the transport. */
export const JetStreamController = (): ClassDecorator =>
  applyDecorators(Controller(), UsePipes(new ValidationPipe(MESSAGE_VALIDATION)), UseFilters(new PassErrorsToTransport()));

/** The payloads of a batch call (`batch` handler option), each validated as a `type`. */
export const Payloads = (type: new () => object): ParameterDecorator => Payload(new ParseArrayPipe({ items: type, ...MESSAGE_VALIDATION }));
