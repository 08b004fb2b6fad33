import type { Contract, ContractColumn } from '@sluice/datasets';
import { columnNameFor, planColumns, type ColumnPlan, type DriftRefusal } from './column-plan';

function col(source: string, name: string, type: ContractColumn['type'], required = true): ContractColumn {
  return { source, name, type, required, ambiguous: 'reject' };
}

function contract(overrides: Partial<Contract>): Contract {
  return {
    name: 'c',
    inputs: {},
    format: { type: 'ndjson' },
    columns: [col('id', 'id', 'int'), col('meta', 'meta', 'jsonb', false), col('note', 'note', 'text', false)],
    table: { name: 'c', key: ['id'], onDuplicateKey: 'reject' },
    drift: 'ignore_extra',
    ...overrides,
  };
}

function plan(result: ColumnPlan | DriftRefusal): ColumnPlan {
  if ('refusal' in result) throw new Error(result.refusal.message);
  return result;
}

describe('planColumns', () => {
  it('reads JSON fields by their dotted path, nested members of a jsonb column being that column, not extra ones', () => {
    const record = { line: 1, values: { id: 7, meta: { a: 1, b: { c: 2 } }, note: 'x' } };
    const p = plan(planColumns(contract({ drift: 'quarantine' }), { records: [record], rejects: [] }));
    expect(p.drift).toEqual([]);
    expect(p.columns.map((c) => c.parse(c.read(record)))).toEqual([
      { ok: true, text: '7' },
      { ok: true, text: '{"a":1,"b":{"c":2}}' },
      { ok: true, text: 'x' },
    ]);
  });

  it('under ignore_extra reads a missing optional column as null and drops extra columns', () => {
    const c = contract({ format: { type: 'csv', delimiter: ';', quote: '"', header: true, decimalComma: false, encoding: 'utf-8', skipLines: 0 } });
    const record = { line: 2, values: ['5', 'extra'] };
    const p = plan(planColumns(c, { header: ['id', 'other'], records: [record], rejects: [] }));
    expect(p.columns.map((x) => x.column.name)).toEqual(['id', 'meta', 'note']);
    expect(p.columns.map((x) => x.parse(x.read(record)))).toEqual([
      { ok: true, text: '5' },
      { ok: true, text: null },
      { ok: true, text: null },
    ]);
    expect(p.added).toEqual([]);
  });

  it('under quarantine refuses a file missing an optional column, naming it', () => {
    const result = planColumns(contract({ drift: 'quarantine' }), { records: [{ line: 3, values: { id: 1, note: 'n' } }], rejects: [] });
    expect(result).toEqual({
      refusal: { rule: 'schema_drift', line: 3, message: expect.stringContaining('- meta: missing') },
      drift: [{ change: 'removed', source: 'meta', name: 'meta' }],
    });
  });

  it('under add_columns names new columns after their source, and refuses one that would take a name in use', () => {
    const added = plan(planColumns(contract({ drift: 'add_columns' }), { records: [{ line: 1, values: { id: 1, 'Wind.Speed km/h': 3 } }], rejects: [] }));
    expect(added.added).toEqual([{ source: 'Wind.Speed km/h', name: 'wind_speed_km_h', type: 'text', required: false, ambiguous: 'reject' }]);
    const taken = planColumns(contract({ drift: 'add_columns' }), { records: [{ line: 1, values: { id: 1, File_ID: 'x' } }], rejects: [] });
    expect(taken).toMatchObject({ refusal: { rule: 'schema_drift', message: expect.stringContaining('"file_id", which the table already uses') } });
  });

  describe('a column the file retyped (a first value that no longer fits its type)', () => {
    const csv = { type: 'csv', delimiter: ';', quote: '"', header: true, decimalComma: true, encoding: 'utf-8', skipLines: 0 } as const;
    const columns = [col('id', 'id', 'int'), col('hum', 'humidity', 'int', false), col('t', 't', 'float')];
    const records = [
      { line: 2, values: ['1', '60', '1,5'] },
      { line: 3, values: ['2', 'n/a', '2,5'] },
      { line: 4, values: ['3', '101', 'x'] },
    ];
    const parsed = (p: ColumnPlan) => records.map((r) => p.columns.map((c) => c.parse(c.read(r))));
    const first = { header: ['id', 'hum', 't'], records: records.slice(0, 2), rejects: [] };

    it('under quarantine: the diff names it, and its misfits stay row errors', () => {
      const p = plan(planColumns(contract({ format: csv, columns, drift: 'quarantine' }), first));
      expect(p.drift).toEqual([{ change: 'type_changed', source: 'hum', name: 'humidity', expected: 'int', found: 'text', sample: 'n/a' }]);
      expect(parsed(p)[1][1]).toMatchObject({ ok: false, rule: 'not_a_number' });
    });

    it('under ignore_extra: a value that does not fit is null, one that fits loads, a required column is not eased', () => {
      const p = plan(planColumns(contract({ format: csv, columns, drift: 'ignore_extra' }), { ...first, records }));
      expect(p.added).toEqual([]);
      const rows = parsed(p);
      expect(rows.map((r) => r[1])).toEqual([
        { ok: true, text: '60' },
        { ok: true, text: null },
        { ok: true, text: '101' },
      ]);
      // "x" in the required float column t retypes it too, but a required column's value must fit.
      expect(rows[2][2]).toMatchObject({ ok: false, rule: 'not_a_number' });
    });

    it('under add_columns: the values that do not fit are kept as text in <column>_raw', () => {
      const p = plan(planColumns(contract({ format: csv, columns, drift: 'add_columns' }), first));
      expect(p.added).toEqual([{ source: 'hum', name: 'humidity_raw', type: 'text', required: false, ambiguous: 'reject' }]);
      expect(parsed(p).map((r) => [r[1], r[3]])).toEqual([
        [{ ok: true, text: '60' }, { ok: true, text: null }],
        [{ ok: true, text: null }, { ok: true, text: 'n/a' }],
        [{ ok: true, text: '101' }, { ok: true, text: null }],
      ]);
    });

    it('under add_columns: refuses the file when <column>_raw is a name the contract uses', () => {
      const taken = [...columns, col('humraw', 'humidity_raw', 'text', false)];
      const result = planColumns(contract({ format: csv, columns: taken, drift: 'add_columns' }), { ...first, header: ['id', 'hum', 't', 'humraw'], records: first.records.map((r) => ({ ...r, values: [...r.values, ''] })) });
      expect(result).toMatchObject({ refusal: { rule: 'schema_drift', message: expect.stringContaining('"humidity_raw", which the table already uses') } });
    });
  });

  it('makes column names lowercase with _ for every other character', () => {
    expect(columnNameFor('Temperatur °C')).toBe('temperatur__c');
  });
});
