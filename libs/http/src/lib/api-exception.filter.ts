import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { HttpRequest as Request, HttpResponse as Response } from './http-types';
import { type ApiErrorBody, type ApiErrorCode, ApiException } from './api-exception';

const CODES: Partial<Record<number, ApiErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  413: 'payload_too_large',
  409: 'conflict',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'service_unavailable',
};

/** Errors a request stream fails with when its client disconnects before the body ended. */
const ABORT_CODES = new Set(['ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNABORTED', 'EPIPE']);

/** The client disconnected mid-request: Node's `aborted` (ECONNRESET) on the request, or a closed socket. */
export function isClientAbort(exception: unknown, req: Pick<Request, 'socket'>): boolean {
  if (!(exception instanceof Error) || exception instanceof HttpException) return false;
  const code = (exception as NodeJS.ErrnoException).code ?? '';
  if (!ABORT_CODES.has(code)) return false;
  return exception.message === 'aborted' || req.socket?.destroyed === true;
}

/** Keys Nest puts in its default error bodies; anything else a thrower added is kept as details. */
const NEST_KEYS = new Set(['statusCode', 'message', 'error']);

/**
 * Renders every error as `{"error": {"code", "message", "details"}}`. Never sends a stack trace: an
 * unexpected error answers 500 "internal error" and its detail goes to the log only.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ApiExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    if (isClientAbort(exception, req)) {
      // The client went away mid-request: nobody reads an answer, and it is no fault of ours to alert on.
      this.logger.debug({ method: req.method, path: req.path, reason: (exception as Error).message }, 'the client closed the connection before the request ended');
      res.destroy();
      return;
    }
    const { status, body } = this.render(exception, req);
    if (res.headersSent) {
      // A stream failed half-way: the status line is gone, all we can do is cut the response.
      res.destroy();
      return;
    }
    if (exception instanceof ApiException) for (const [name, value] of Object.entries(exception.headers)) res.setHeader(name, value);
    res.status(status).json(body);
  }

  private render(exception: unknown, req: Request): { status: number; body: ApiErrorBody } {
    if (exception instanceof ApiException) {
      return { status: exception.getStatus(), body: { error: { code: exception.code, message: exception.message, details: exception.details } } };
    }
    if (exception instanceof HttpException && exception.getStatus() < 500) {
      const status = exception.getStatus();
      const code = CODES[status] ?? 'error';
      const response = exception.getResponse();
      let message = exception.message;
      let details: unknown = null;
      if (typeof response === 'string') message = response;
      else if (response && typeof response === 'object') {
        const r = response as Record<string, unknown>;
        if (typeof r['message'] === 'string') message = r['message'];
        else if (Array.isArray(r['message'])) message = r['message'].map(String).join('; ');
        const extra = Object.entries(r).filter(([k]) => !NEST_KEYS.has(k));
        if (extra.length > 0) details = Object.fromEntries(extra);
      }
      // Nest's router says "Cannot GET /x"; say it the same way every time.
      if (status === 404 && /^Cannot [A-Z]+ /.test(message)) message = `no route ${req.method} ${req.path}`;
      // The router's "Failed to decode param '%ff'": say what is wrong and how to fix it.
      const undecodable = status === 400 ? /^Failed to decode param '(.*)'$/s.exec(message) : null;
      if (undecodable) message = `the path segment "${undecodable[1]}" is not valid percent-encoded UTF-8`;
      return { status, body: { error: { code, message, details } } };
    }
    if (exception instanceof HttpException && exception.getStatus() === HttpStatus.SERVICE_UNAVAILABLE) {
      // Readiness checks report which dependency is down; that is for operators, not a secret.
      const response = exception.getResponse();
      return { status: 503, body: { error: { code: 'service_unavailable', message: 'service unavailable', details: typeof response === 'object' ? response : null } } };
    }
    this.logger.error({ err: exception, method: req.method, path: req.path }, 'unhandled error');
    return { status: 500, body: { error: { code: 'internal_error', message: 'internal error', details: null } } };
  }
}
