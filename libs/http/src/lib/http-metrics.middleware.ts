import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { HttpRequest, HttpResponse } from './http-types';
import { Counter, Histogram, register } from 'prom-client';

// Several apps in one process (tests) share the default registry: register once, reuse after.
function metric<T>(name: string, make: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? make();
}

/**
 * Request count and latency by route template (not the raw URL, which would explode the label set).
 * A middleware rather than an interceptor, so requests refused by the key guard are counted too.
 */
@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  private readonly requests = metric(
    'http_requests_total',
    () => new Counter({ name: 'http_requests_total', help: 'HTTP requests answered', labelNames: ['method', 'route', 'status'] }),
  );
  private readonly duration = metric(
    'http_request_duration_seconds',
    () =>
      new Histogram({
        name: 'http_request_duration_seconds',
        help: 'HTTP request latency',
        labelNames: ['method', 'route'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      }),
  );

  use(req: HttpRequest, res: HttpResponse, next: () => void): void {
    const end = this.duration.startTimer();
    res.once('finish', () => {
      const route = req.route?.path;
      // No route, or the router's catch-all (unknown paths): one label, whatever the URL was.
      const labels = { method: req.method, route: route && !route.includes('*') ? `${req.baseUrl}${route}` : 'unmatched' };
      end(labels);
      this.requests.inc({ ...labels, status: String(res.statusCode) });
    });
    next();
  }
}
