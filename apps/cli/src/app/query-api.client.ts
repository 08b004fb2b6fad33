import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CliConfig } from '@sluice/config';
import { CliError } from './cli-error';

/** QUERY_API_KEY, else the local key `npm start` keeps in SLUICE_HOME/api-keys.json. */
export function resolveQueryKey(config: CliConfig): string | undefined {
  if (config.QUERY_API_KEY) return config.QUERY_API_KEY;
  const file = join(resolve(config.SLUICE_HOME), 'api-keys.json');
  if (!existsSync(file)) return undefined;
  try {
    const keys = JSON.parse(readFileSync(file, 'utf8')) as { query?: unknown };
    return typeof keys.query === 'string' ? keys.query : undefined;
  } catch {
    throw new CliError(`${file} is not valid JSON; delete it and run npm start again, or set QUERY_API_KEY`);
  }
}

interface ApiErrorBody {
  error?: { code?: string; message?: string };
}

/** The query API over HTTP, with errors turned into sentences. */
export class QueryApiClient {
  readonly base: string;

  constructor(
    base: string,
    private readonly key: string | undefined,
  ) {
    this.base = base.replace(/\/+$/, '');
  }

  async get(path: string, accept = 'application/json'): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { headers: { accept, ...(this.key ? { 'x-api-key': this.key } : {}) } });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(`cannot reach the query API at ${this.base} (QUERY_API_URL): ${cause?.code ?? cause?.message ?? (e as Error).message}; is it running (npm start)?`);
    }
    if (res.ok) return res;
    const text = await res.text();
    let message = text.slice(0, 300);
    try {
      message = (JSON.parse(text) as ApiErrorBody).error?.message ?? message;
    } catch {
      // not JSON: keep the text
    }
    if (res.status === 401) {
      throw new CliError(`the query API refused the request (401): ${message}. ${this.key ? 'Check QUERY_API_KEY.' : 'Set QUERY_API_KEY or run npm start, which writes a local key.'}`);
    }
    if (res.status === 403) throw new CliError(`the query API refused the key (403): ${message}; QUERY_API_KEY must be a query-api key`);
    throw new CliError(`the query API answered ${res.status}: ${message}`);
  }

  async json<T>(path: string): Promise<T> {
    return (await (await this.get(path)).json()) as T;
  }
}
