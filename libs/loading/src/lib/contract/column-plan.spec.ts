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

  it('makes column names lowercase with _ for every other character', () => {
    expect(columnNameFor('Temperatur °C')).toBe('temperatur__c');
  });
});
