import { type ArgumentsHost, BadRequestException, NotFoundException } from '@nestjs/common';
import { ApiException } from './api-exception';
import { ApiExceptionFilter } from './api-exception.filter';

function host() {
  const sent: { status?: number; body?: unknown } = {};
  const res = {
    headersSent: false,
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

  it('maps Nest exceptions to a code by status', () => {
    const { h, sent } = host();
    sut.catch(new BadRequestException('Unexpected token in JSON'), h);
    expect(sent).toEqual({ status: 400, body: { error: { code: 'bad_request', message: 'Unexpected token in JSON', details: null } } });
    sut.catch(new NotFoundException('Cannot GET /x'), h);
    expect(sent).toEqual({ status: 404, body: { error: { code: 'not_found', message: 'no route GET /x', details: null } } });
  });
});
