import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BoundedExpressAdapter } from './http-server';

describe('BoundedExpressAdapter', () => {
  it('answers a JSON body without an ETag (no hash of every response)', async () => {
    const adapter = new BoundedExpressAdapter();
    (adapter.getInstance() as { get(path: string, h: (req: unknown, res: { json(v: unknown): void }) => void): void }).get('/page', (_req, res) => res.json({ readings: [1, 2, 3] }));
    adapter.initHttpServer({});
    const server = adapter.getHttpServer() as Server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/page`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ readings: [1, 2, 3] });
      expect(res.headers.get('etag')).toBeNull();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
