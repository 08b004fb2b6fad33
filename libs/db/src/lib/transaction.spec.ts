import { withConnection, withTransaction, type ConnectionPool, type TransactionClient } from './transaction';

/** A client that records its statements and fails the ones named in `failing`. */
class FakeClient implements TransactionClient {
  readonly statements: string[] = [];
  constructor(private readonly failing: ReadonlySet<string> = new Set()) {}

  async query(text: string): Promise<{ rows: unknown[] }> {
    this.statements.push(text);
    if (this.failing.has(text)) throw new Error(`${text} failed`);
    return { rows: [] };
  }
}

/** A pool of one client that counts what it lent and got back. */
class FakePool implements ConnectionPool {
  lent = 0;
  released = 0;
  constructor(readonly client: FakeClient) {}

  createQueryRunner() {
    return {
      connect: async () => {
        this.lent++;
        return this.client;
      },
      release: async () => {
        this.released++;
      },
    };
  }
}

describe(withTransaction.name, () => {
  it('commits what the work did and returns its result', async () => {
    const client = new FakeClient();
    const result = await withTransaction(client, async (c) => {
      await c.query('UPDATE t SET x = 1');
      return 42;
    });
    expect(result).toBe(42);
    expect(client.statements).toEqual(['BEGIN', 'UPDATE t SET x = 1', 'COMMIT']);
  });

  it('rolls back and throws the error of the work, even when the ROLLBACK fails too', async () => {
    const client = new FakeClient(new Set(['UPDATE t SET x = 1', 'ROLLBACK']));
    await expect(withTransaction(client, (c) => c.query('UPDATE t SET x = 1'))).rejects.toThrow('UPDATE t SET x = 1 failed');
    expect(client.statements).toEqual(['BEGIN', 'UPDATE t SET x = 1', 'ROLLBACK']);
  });

  it('throws a failed COMMIT without a ROLLBACK: whether it committed is unknown', async () => {
    const client = new FakeClient(new Set(['COMMIT']));
    await expect(withTransaction(client, async () => 1)).rejects.toThrow('COMMIT failed');
    expect(client.statements).toEqual(['BEGIN', 'COMMIT']);
  });

  it('takes a client from a pool and gives it back however the work ends', async () => {
    const pool = new FakePool(new FakeClient());
    expect(await withTransaction(pool, async (c) => c === (pool.client as unknown))).toBe(true);
    await expect(
      withTransaction(pool, async () => {
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(pool.client.statements).toEqual(['BEGIN', 'COMMIT', 'BEGIN', 'ROLLBACK']);
    expect([pool.lent, pool.released]).toEqual([2, 2]);
  });

  it('leaves a client it was given to the caller', async () => {
    const client = Object.assign(new FakeClient(), { release: jest.fn() });
    await withTransaction(client, async () => undefined);
    expect(client.release).not.toHaveBeenCalled();
  });
});

describe(withConnection.name, () => {
  it('lends a client without a transaction and gives it back', async () => {
    const pool = new FakePool(new FakeClient());
    await expect(withConnection(pool, (c) => c.query('SELECT 1').then(() => Promise.reject(new Error('late'))))).rejects.toThrow('late');
    expect(pool.client.statements).toEqual(['SELECT 1']);
    expect([pool.lent, pool.released]).toEqual([1, 1]);
  });
});
