// The parts of Express's request/response this lib uses (@types/express is not installed).

export interface HttpRequest {
  method: string;
  path: string;
  baseUrl: string;
  route?: { path?: string };
  headers: Record<string, string | string[] | undefined>;
  originalUrl?: string;
  /** The connection; `destroyed` once the client has gone. */
  socket?: { destroyed: boolean };
}

export interface HttpResponse {
  statusCode: number;
  headersSent: boolean;
  status(code: number): HttpResponse;
  setHeader(name: string, value: string): unknown;
  json(body: unknown): HttpResponse;
  destroy(): void;
  once(event: 'finish', listener: () => void): HttpResponse;
}
