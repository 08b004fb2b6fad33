import type { NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { HttpServerLimits } from '@sluice/config';
import { createServer, STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** How often Node looks for requests past their headers/request timeout (its default, 30 s, would let a 10 s limit run to 40 s). */
const TIMEOUT_CHECK_MS = 1000;

/**
 * Express under Nest, on a Node server that checks its timeouts every second (an option only `createServer`
 * takes), with no ETags: the services answer fresh query results, status and 202s, where hashing every body
 * (SHA-1 of 100+ KB query pages) costs more than a conditional request could save.
 */
export class BoundedExpressAdapter extends ExpressAdapter {
  constructor() {
    super();
    this.set('etag', false);
  }

  override initHttpServer(options: NestApplicationOptions): void {
    if (options?.httpsOptions || options?.forceCloseConnections || options?.return503OnClosing) {
      super.initHttpServer(options);
      return;
    }
    this.httpServer = createServer({ connectionsCheckingInterval: TIMEOUT_CHECK_MS }, this.getInstance());
  }
}

/**
 * Applies the configured bounds to a listening server: a client that sends its headers too slowly gets a
 * 408, a connection silent both ways for idleTimeoutMs is closed, and connections past maxConnections are
 * closed as they arrive. A GET (an `/events` stream) is complete once its headers are in, so the request
 * timeout never cuts a long response; only the idle timeout applies to it, and its heartbeats reset it.
 */
export function applyHttpServerLimits(server: Server, limits: HttpServerLimits): void {
  server.headersTimeout = limits.requestTimeoutMs > 0 ? Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) : limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.setTimeout(limits.idleTimeoutMs);
  if (limits.maxConnections > 0) server.maxConnections = limits.maxConnections;
  server.on('clientError', answerClientError);
}

/**
 * A request Node refused before any route saw it (headers too slow or too large, malformed): answered in
 * the API's error format, as Node's own handler would with an empty body.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const inResponse = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (!socket.writable || inResponse || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'request_timeout', 'the request (its headers, or its body) did not arrive in time; the connection is closed']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'bad_request', 'the request headers are too large']
        : [400, 'bad_request', 'the request is not valid HTTP'];
  const body = JSON.stringify({ error: { code, message, details: null } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
