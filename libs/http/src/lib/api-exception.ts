import { HttpException, HttpStatus } from '@nestjs/common';

/** Machine-readable error codes of the Sluice APIs. */
export type ApiErrorCode =
  | 'bad_request'
  | 'invalid_parameter'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'not_acceptable'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'invalid_json'
  | 'invalid_document'
  | 'conflict'
  /** A replay of a file whose stored bytes retention removed (409; `details.expiredAt`). */
  | 'file_expired'
  | 'idempotency_key_reused'
  | 'rate_limited'
  | 'request_timeout'
  | 'service_unavailable'
  | 'disk_low'
  | 'internal_error'
  | 'error';

/** One problem with one request parameter (query, path or body field). */
export interface ParameterProblem {
  parameter: string;
  message: string;
}

/** The body of every error response: `{"error": {"code", "message", "details"}}`. */
export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string; details: unknown };
}

/** An error with a code the client can match; the global filter renders it as ApiErrorBody. */
export class ApiException extends HttpException {
  constructor(
    status: HttpStatus,
    readonly code: ApiErrorCode,
    message: string,
    readonly details: unknown = null,
  ) {
    super(message, status);
    this.name = 'ApiException';
  }

  /** Response headers sent with the error (e.g. `Retry-After`), set by the filter. */
  readonly headers: Record<string, string> = {};

  /** This error, answered with the header `name: value` too. */
  withHeader(name: string, value: string): this {
    this.headers[name] = value;
    return this;
  }

  /** 400 naming the parameter(s) at fault. */
  static invalidParameters(problems: ParameterProblem[]): ApiException {
    const message = problems.map((p) => `${p.parameter}: ${p.message}`).join('; ');
    return new ApiException(HttpStatus.BAD_REQUEST, 'invalid_parameter', `invalid parameter ${message}`, problems);
  }

  static invalidParameter(parameter: string, message: string): ApiException {
    return ApiException.invalidParameters([{ parameter, message }]);
  }

  static notFound(what: string, id: string): ApiException {
    return new ApiException(HttpStatus.NOT_FOUND, 'not_found', `${what} "${id}" not found`, { [what]: id });
  }
}
