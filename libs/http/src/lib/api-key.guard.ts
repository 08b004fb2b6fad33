import { type CanActivate, type ExecutionContext, ForbiddenException, Injectable, SetMetadata, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createHash, timingSafeEqual } from 'node:crypto';

export const API_KEY_HEADER = 'x-api-key';
/** The dashboard keeps its key in this HttpOnly cookie (SPEC §6.1); the header wins when both are sent. */
export const API_KEY_COOKIE = 'sluice_key';
const PUBLIC_ROUTE = 'sluice:public-route';

/** Marks a controller or handler as reachable without a key (health, metrics and docs are open already). */
export const PublicRoute = () => SetMetadata(PUBLIC_ROUTE, true);

export type KeyMatch = 'accepted' | 'foreign' | 'unknown';

/** The value of cookie `name` in a Cookie header, URL-decoded; undefined when absent or malformed. */
export function readCookie(header: string | string[] | undefined, name: string): string | undefined {
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}

const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

/**
 * Compares a presented key with the configured ones in constant time: both sides are SHA-256 digests
 * (equal length, so the comparison leaks neither content nor length), and every configured key is
 * compared, so the time does not tell which list or which key matched.
 */
export class ApiKeyMatcher {
  private readonly accepted: Buffer[];
  private readonly foreign: Buffer[];

  /** `accepted`: this API's keys; `foreign`: the other API's keys (recognised, then refused with 403). */
  constructor(accepted: readonly string[], foreign: readonly string[]) {
    this.accepted = accepted.map(digest);
    this.foreign = foreign.map(digest);
  }

  get hasKeys(): boolean {
    return this.accepted.length > 0;
  }

  match(presented: string | undefined): KeyMatch {
    const d = digest(presented ?? '');
    let accepted = false;
    let foreign = false;
    for (const k of this.accepted) accepted = timingSafeEqual(k, d) || accepted;
    for (const k of this.foreign) foreign = timingSafeEqual(k, d) || foreign;
    if (presented === undefined || presented === '') return 'unknown';
    if (accepted) return 'accepted';
    return foreign ? 'foreign' : 'unknown';
  }
}

export interface ApiKeyGuardOptions {
  acceptedKeys: readonly string[];
  foreignKeys: readonly string[];
  /** Let every request through (only when no key is configured and ALLOW_ANONYMOUS=true). */
  anonymous: boolean;
  /** Paths served without a key whatever their controller says (health and metrics of the shared lib). */
  openPaths: RegExp;
}

export const DEFAULT_OPEN_PATHS = /^\/(health|metrics)(\/|$)/;

/**
 * `x-api-key` check for every HTTP route (or the dashboard's `sluice_key` cookie when no header is sent):
 * missing or wrong key → 401, a key of the other API → 403.
 * The key itself is never logged nor echoed.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly matcher: ApiKeyMatcher;

  constructor(
    private readonly reflector: Reflector,
    private readonly options: ApiKeyGuardOptions,
  ) {
    this.matcher = new ApiKeyMatcher(options.acceptedKeys, options.foreignKeys);
  }

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http' || this.options.anonymous) return true;
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()])) return true;
    const req = context.switchToHttp().getRequest<{ path: string; headers: Record<string, string | string[] | undefined> }>();
    if (this.options.openPaths.test(req.path)) return true;
    const header = req.headers[API_KEY_HEADER];
    const presented = header === undefined ? readCookie(req.headers['cookie'], API_KEY_COOKIE) : Array.isArray(header) ? undefined : header;
    switch (this.matcher.match(presented)) {
      case 'accepted':
        return true;
      case 'foreign':
        throw new ForbiddenException(`this key belongs to another Sluice API; use a key of this API in ${API_KEY_HEADER}`);
      case 'unknown':
        throw new UnauthorizedException(presented ? `invalid API key in ${API_KEY_HEADER}` : `missing API key: send it in the ${API_KEY_HEADER} header`);
    }
  }
}
