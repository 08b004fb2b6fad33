import { createTestDatabase, startServiceApi, testNamespace, type ServiceApi, type ServiceApiEntry, type TestDatabase } from '@sluice/testing';
import { QUERY_API_OPENAPI, QueryApiModule } from '../src/lib/query-api.module';

/** The query-api as its main.ts boots it, for startServiceApi. */
export const QUERY_API: ServiceApiEntry = { module: (settings) => QueryApiModule.forRoot(settings), portVariable: 'QUERY_API_PORT', bootstrap: { openApi: QUERY_API_OPENAPI } };

// Response bodies are checked field by field in the specs; `any` keeps those checks short.
export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A query API booted as main.ts does, on a test database of its own seeded by `seed`, with helpers to call it. */
export interface QueryApiHarness {
  db: TestDatabase;
  base: string;
  call(path: string, key?: string | null): Promise<{ status: number; body: Json }>;
  /** Expects a 400 in the error format naming `parameter` alone. */
  expectBadParameter(path: string, parameter: string): Promise<void>;
  /** Follows next_cursor from `path` (which has a query string) and returns every row of `field` and the pages read. */
  walk(path: string, field: string): Promise<{ rows: Json[]; pages: number }>;
  close(): Promise<void>;
}

/** `env`: settings on top of the test ones (e.g. CSV_FORMULA_ESCAPE). */
export async function startQueryApi(label: string, key: string, seed: (url: string) => Promise<void>, env: Record<string, string> = {}): Promise<QueryApiHarness> {
  const db = await createTestDatabase(label);
  let api: ServiceApi | undefined;
  const close = async () => {
    await api?.stop();
    await db.drop();
  };
  try {
    await seed(db.url);
    api = await startServiceApi(QUERY_API, { DATABASE_URL: db.url, NATS_NAMESPACE: testNamespace(label), QUERY_API_KEYS: key, INGEST_API_KEYS: 'ik', ...env });
  } catch (e) {
    await close();
    throw e;
  }
  const { base } = api;
  const call = async (path: string, k: string | null = key) => {
    const res = await fetch(`${base}${path}`, { headers: k === null ? {} : { 'x-api-key': k } });
    return { status: res.status, body: (await res.json()) as Json };
  };
  return {
    db,
    base,
    call,
    async expectBadParameter(path, parameter) {
      const { status, body } = await call(path);
      expect(status).toBe(400);
      expect(body['error'].code).toBe('invalid_parameter');
      expect(body['error'].details).toEqual([{ parameter, message: expect.any(String) }]);
    },
    async walk(path, field) {
      const rows: Json[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const { status, body } = await call(`${path}${cursor ? `&cursor=${cursor}` : ''}`);
        expect(status).toBe(200);
        rows.push(...body[field]);
        cursor = body['next_cursor'];
        pages++;
      } while (cursor !== null && pages < 100);
      return { rows, pages };
    },
    close,
  };
}
