import { Injectable, type NestMiddleware } from '@nestjs/common';
import { ApiException } from './api-exception';
import type { HttpRequest } from './http-types';

const decoded = (text: string): string | undefined => {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
};

/**
 * Refuses a query string that is not valid percent-encoded UTF-8 (`%ff`, a lone `%`), naming the parameter.
 * Express's parser would keep such a value as it is, and the request would go on with text the client never meant.
 */
@Injectable()
export class QueryEncodingMiddleware implements NestMiddleware {
  use(req: HttpRequest, _res: unknown, next: () => void): void {
    const url = req.originalUrl ?? '';
    const at = url.indexOf('?');
    if (at >= 0) {
      for (const pair of url.slice(at + 1).split('&')) {
        const eq = pair.indexOf('=');
        const [key, value] = eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
        const name = decoded(key);
        if (name === undefined || decoded(value) === undefined) {
          throw ApiException.invalidParameter(name ?? key, 'is not valid percent-encoded UTF-8');
        }
      }
    }
    next();
  }
}
