import { ForbiddenException, UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiKeyGuard, ApiKeyMatcher, DEFAULT_OPEN_PATHS, readCookie } from './api-key.guard';

describe(ApiKeyMatcher.name, () => {
  const sut = new ApiKeyMatcher(['query-1', 'query-2'], ['ingest-1']);

  it('accepts every configured key of this API', () => {
    expect(sut.match('query-1')).toBe('accepted');
    expect(sut.match('query-2')).toBe('accepted');
  });

  it('recognises a key of the other API', () => {
    expect(sut.match('ingest-1')).toBe('foreign');
  });

  it('refuses missing, empty, wrong, prefix and longer keys', () => {
    for (const k of [undefined, '', 'query', 'query-10', 'query-1 ', 'QUERY-1', 'x'.repeat(10_000)]) expect(sut.match(k)).toBe('unknown');
  });

  it('prefers this API when a key is in both lists', () => {
    expect(new ApiKeyMatcher(['shared'], ['shared']).match('shared')).toBe('accepted');
  });

  it('accepts nothing when no key is configured', () => {
    const empty = new ApiKeyMatcher([], []);
    expect(empty.hasKeys).toBe(false);
    expect(empty.match('')).toBe('unknown');
    expect(empty.match('anything')).toBe('unknown');
  });
});

describe(ApiKeyGuard.name, () => {
  const context = (path: string, key?: string | string[]): ExecutionContext =>
    ({
      getType: () => 'http',
      getHandler: () => () => undefined,
      getClass: () => class Controller {},
      switchToHttp: () => ({ getRequest: () => ({ path, headers: key === undefined ? {} : { 'x-api-key': key } }) }),
    }) as unknown as ExecutionContext;
  const sut = new ApiKeyGuard(new Reflector(), { acceptedKeys: ['q'], foreignKeys: ['i'], anonymous: false, openPaths: DEFAULT_OPEN_PATHS });

  it('maps the match to allow, 401 and 403', () => {
    expect(sut.canActivate(context('/sensors', 'q'))).toBe(true);
    expect(() => sut.canActivate(context('/sensors'))).toThrow(UnauthorizedException);
    expect(() => sut.canActivate(context('/sensors', 'nope'))).toThrow(UnauthorizedException);
    expect(() => sut.canActivate(context('/sensors', ['q', 'q']))).toThrow(UnauthorizedException);
    expect(() => sut.canActivate(context('/sensors', 'i'))).toThrow(ForbiddenException);
  });

  it('takes the key from the sluice_key cookie when no header is sent', () => {
    const withCookie = (cookie: string, key?: string): ExecutionContext =>
      ({
        ...context('/stats'),
        switchToHttp: () => ({ getRequest: () => ({ path: '/stats', headers: { cookie, ...(key === undefined ? {} : { 'x-api-key': key }) } }) }),
      }) as unknown as ExecutionContext;
    expect(sut.canActivate(withCookie('theme=dark; sluice_key=q'))).toBe(true);
    expect(() => sut.canActivate(withCookie('sluice_key=nope'))).toThrow(UnauthorizedException);
    expect(() => sut.canActivate(withCookie('sluice_key=i'))).toThrow(ForbiddenException);
    expect(() => sut.canActivate(withCookie('other_key=q'))).toThrow(UnauthorizedException);
    // An explicit header is what the client meant; a stale cookie does not override it.
    expect(() => sut.canActivate(withCookie('sluice_key=q', 'nope'))).toThrow(UnauthorizedException);
  });

  it('reads one cookie, URL-decoded, and ignores malformed ones', () => {
    expect(readCookie('a=1; sluice_key=k%3Dv%20x; b=2', 'sluice_key')).toBe('k=v x');
    expect(readCookie('sluice_key=%E0%A4%A', 'sluice_key')).toBeUndefined();
    expect(readCookie(undefined, 'sluice_key')).toBeUndefined();
    expect(readCookie('xsluice_key=1', 'sluice_key')).toBeUndefined();
  });

  it('never puts the presented key in the error', () => {
    try {
      sut.canActivate(context('/sensors', 'secret-guess'));
      throw new Error('expected a refusal');
    } catch (e) {
      expect(JSON.stringify((e as UnauthorizedException).getResponse())).not.toContain('secret-guess');
    }
  });

  it('leaves health and metrics open but not look-alike paths', () => {
    expect(sut.canActivate(context('/health/live'))).toBe(true);
    expect(sut.canActivate(context('/metrics'))).toBe(true);
    expect(() => sut.canActivate(context('/healthy'))).toThrow(UnauthorizedException);
  });

  it('lets everything through in anonymous mode', () => {
    const open = new ApiKeyGuard(new Reflector(), { acceptedKeys: [], foreignKeys: [], anonymous: true, openPaths: DEFAULT_OPEN_PATHS });
    expect(open.canActivate(context('/sensors'))).toBe(true);
  });
});
