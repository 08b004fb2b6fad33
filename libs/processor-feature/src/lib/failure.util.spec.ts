import { classifyFailure } from './failure.util';

/** The shape pg gives a server error (DatabaseError). */
const pgError = (code: string, message = 'boom') => Object.assign(new Error(message), { code, severity: 'ERROR' });
const sysError = (code: string) => Object.assign(new Error(`${code}: system`), { code });

describe(classifyFailure.name, () => {
  it('data exceptions (22) and integrity violations (23) are permanent: quarantined with the SQLSTATE, never retried', () => {
    for (const code of ['22021', '22P05', '22003', '23514', '23502']) {
      const f = classifyFailure(pgError(code, 'invalid byte sequence for encoding "UTF8": 0x00'));
      expect(f.kind).toBe('permanent');
      expect(f.reason).toMatchObject({ rule: 'rejected_by_database', message: expect.stringContaining(`SQLSTATE ${code}`) });
    }
  });

  it('connection (08), serialization/deadlock (40), resources (53), operator (57), lock timeout and a full disk are transient', () => {
    // A unique violation escaping the loaders (which resolve key conflicts) is a race between replicas.
    for (const code of ['08006', '08001', '40001', '40P01', '53100', '53300', '57P01', '57014', '55P03', '23505']) expect(classifyFailure(pgError(code)).kind).toBe('transient');
    for (const code of ['ENOSPC', 'ECONNRESET', 'ECONNREFUSED', 'EIO']) expect(classifyFailure(sysError(code)).kind).toBe('transient');
    expect(classifyFailure(new Error('Connection terminated unexpectedly')).kind).toBe('transient');
  });

  it('a row refused by a default partition\'s constraint (a partition made while the load ran) is transient, other check violations permanent', () => {
    const race = pgError('23514', 'new row for relation "raw_sensor_data_default" violates partition constraint');
    expect(classifyFailure(race)).toMatchObject({ kind: 'transient', reason: { rule: 'processing_failed' } });
    expect(classifyFailure(pgError('23514', 'new row for relation "measurements" violates check constraint "measurements_value_check"')).kind).toBe('permanent');
  });

  it('anything else (a parser crashing on a poison file, a bug) is unknown: retried, then failed with its message', () => {
    expect(classifyFailure(new TypeError("Cannot read properties of undefined (reading 'x')"))).toEqual({ kind: 'unknown', reason: { rule: 'processing_failed', message: "Cannot read properties of undefined (reading 'x')" } });
    expect(classifyFailure(pgError('42P01')).kind).toBe('unknown');
    // A system error code is not mistaken for a SQLSTATE.
    expect(classifyFailure(Object.assign(new Error('x'), { code: 'EPIPE' })).kind).toBe('transient');
    expect(classifyFailure('thrown string').reason.message).toBe('thrown string');
  });
});
