import { type ArgumentsHost, BadRequestException, NotFoundException } from '@nestjs/common';
import { ApiException } from './api-exception';
import { ApiExceptionFilter, isClientAbort } from './api-exception.filter';

function host() {
  const sent: { status?: number; body?: unknown; headers?: Record<string, string> } = {};
  const res = {
    headersSent: false,
    setHeader(name: string, value: string) {
      sent.headers = { ...sent.headers, [name]: value };
    },
    status(code: number) {
      sent.status = code;
      return res;
    },
    json(body: unknown) {
      sent.body = body;
      return res;
    },
  };
  const req = { method: 'GET', path: '/x' };
  const h = { getType: () => 'http', switchToHttp: () => ({ getResponse: () => res, getRequest: () => req }) } as unknown as ArgumentsHost;
  return { h, sent };
}

describe(ApiExceptionFilter.name, () => {
  const sut = new ApiExceptionFilter();

  it('answers 500 "internal error" without the detail of an unexpected error', () => {
    const { h, sent } = host();
    jest.spyOn((sut as unknown as { logger: { error: () => void } }).logger, 'error').mockImplementation(() => undefined);
    sut.catch(new Error('relation "secret_table" does not exist'), h);
    expect(sent).toEqual({ status: 500, body: { error: { code: 'internal_error', message: 'internal error', details: null } } });
  });

  it('keeps code, message and details of an ApiException', () => {
    const { h, sent } = host();
    sut.catch(ApiException.invalidParameter('from', 'must be a date'), h);
    expect(sent).toEqual({ status: 400, body: { error: { code: 'invalid_parameter', message: 'invalid parameter from: must be a date', details: [{ parameter: 'from', message: 'must be a date' }] } } });
  });

  it('sends the headers an ApiException carries', () => {
    const { h, sent } = host();
    sut.catch(new ApiException(503, 'disk_low', 'drop folder has 12 MiB free, below MIN_FREE_DISK 1 GiB').withHeader('Retry-After', '30'), h);
    expect(sent).toEqual({ status: 503, headers: { 'Retry-After': '30' }, body: { error: { code: 'disk_low', message: 'drop folder has 12 MiB free, below MIN_FREE_DISK 1 GiB', details: null } } });
  });

  it('maps Nest exceptions to a code by status', () => {
    const { h, sent } = host();
    sut.catch(new BadRequestException('Unexpected token in JSON'), h);
    expect(sent).toEqual({ status: 400, body: { error: { code: 'bad_request', message: 'Unexpected token in JSON', details: null } } });
    sut.catch(new NotFoundException('Cannot GET /x'), h);
    expect(sent).toEqual({ status: 404, body: { error: { code: 'not_found', message: 'no route GET /x', details: null } } });
  });
});

describe('a client that disconnects mid-request', () => {
  const aborted = () => Object.assign(new Error('aborted'), { code: 'ECONNRESET' });

  function abortedHost() {
    const res = { headersSent: false, destroyed: false, status: () => res, json: () => res, destroy: () => (res.destroyed = true) };
    const req = { method: 'POST', path: '/ingest', socket: { destroyed: true } };
    const h = { getType: () => 'http', switchToHttp: () => ({ getResponse: () => res, getRequest: () => req }) } as unknown as ArgumentsHost;
    return { h, res };
  }

  it('is logged at debug without a stack, not as an unhandled error', () => {
    const sut = new ApiExceptionFilter();
    const logger = (sut as unknown as { logger: { error: () => void; debug: () => void } }).logger;
    const error = jest.spyOn(logger, 'error').mockImplementation(() => undefined);
    const debug = jest.spyOn(logger, 'debug').mockImplementation(() => undefined);
    const { h, res } = abortedHost();
    sut.catch(aborted(), h);
    expect(error).not.toHaveBeenCalled();
    expect(debug).toHaveBeenCalledTimes(1);
    const [fields] = debug.mock.calls[0] as unknown as [Record<string, unknown>];
    expect(fields).toEqual({ method: 'POST', path: '/ingest', reason: 'aborted' });
    expect(JSON.stringify(debug.mock.calls[0])).not.toMatch(/\bat .+:\d+:\d+/);
    expect(res.destroyed).toBe(true);
  });

  it('is told apart from a server-side connection reset while the client is still there', () => {
    expect(isClientAbort(aborted(), { socket: { destroyed: false } })).toBe(true);
    expect(isClientAbort(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), { socket: { destroyed: false } })).toBe(false);
    expect(isClientAbort(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), { socket: { destroyed: true } })).toBe(true);
    expect(isClientAbort(new Error('aborted'), { socket: { destroyed: true } })).toBe(false);
  });
});
