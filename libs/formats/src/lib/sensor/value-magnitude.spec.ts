import { Readable } from 'node:stream';
import { magnitudeProblem, MAX_ABS_VALUE, readLongCsv, readWideCsv, validateDocument, validateLine, type RowReject, type SensorCsvBatch } from '../../index';

async function collect<T>(gen: AsyncGenerator<SensorCsvBatch<T>>): Promise<{ rows: T[]; rejects: RowReject[] }> {
  const rows: T[] = [];
  const rejects: RowReject[] = [];
  for await (const b of gen) {
    rows.push(...b.rows);
    rejects.push(...b.rejects);
  }
  return { rows, rejects };
}

// Values whose statistics overflow float8 (the mean and std dev of ±1.7e308 are NaN) are refused.
describe('largest stored magnitude', () => {
  it('accepts ±MAX_ABS_VALUE and refuses anything beyond as out_of_range', () => {
    expect(magnitudeProblem(MAX_ABS_VALUE, 'v')).toBeNull();
    expect(magnitudeProblem(-MAX_ABS_VALUE, 'v')).toBeNull();
    expect(magnitudeProblem(1.7e308, 'light')).toEqual({ rule: 'out_of_range', message: 'light 1.7e+308 is beyond ±1e+100, the largest magnitude Sluice stores' });
    expect(magnitudeProblem(-1e101, 'v')).toMatchObject({ rule: 'out_of_range' });
  });

  it('wide CSV: refuses a huge value of a metric without a configured range, and one METRIC_RANGES would allow', async () => {
    const csv = ['"ts","device","light","temp"', '"1.5E9","d","1.7E308","1"', '"1.5E9","d","-1.7e308","1"', '"1.5E9","d","1e100","-1e200"', '"1.5E9","d","5","-1e100"'].join('\n');
    const ranges = { temp: { min: -1e300, max: 1e300 } };
    const { rows, rejects } = await collect(readWideCsv(Readable.from([csv]), { ranges, naiveTimeZone: 'UTC' }));
    expect(rows.map((r) => r.values)).toEqual([[5, -1e100]]);
    expect(rejects.map((r) => [r.line, r.column, r.rule])).toEqual([
      [2, 'light', 'out_of_range'],
      [3, 'light', 'out_of_range'],
      [4, 'temp', 'out_of_range'],
    ]);
    expect(rejects[0].message).toContain('beyond ±1e+100');
  });

  it('wide CSV: a value inside ±MAX_ABS_VALUE but outside METRIC_RANGES still names METRIC_RANGES', async () => {
    const csv = '"ts","device","temp"\n"1.5E9","d","99"\n';
    const { rejects } = await collect(readWideCsv(Readable.from([csv]), { ranges: { temp: { min: -50, max: 50 } }, naiveTimeZone: 'UTC' }));
    expect(rejects).toMatchObject([{ rule: 'out_of_range', message: expect.stringContaining('METRIC_RANGES') }]);
  });

  it('long CSV: refuses a huge value', async () => {
    const csv = 'timestamp;sensor_uuid;sensor_value\n2024-01-01T00:00:00Z;0b8e3f2c-1a2b-4c3d-8e9f-0123456789ab;1.7e308\n2024-01-01T00:00:01Z;0b8e3f2c-1a2b-4c3d-8e9f-0123456789ab;2\n';
    const { rows, rejects } = await collect(readLongCsv(Readable.from([csv]), { ranges: {}, naiveTimeZone: 'UTC' }));
    expect(rows.map((r) => r.value)).toEqual([2]);
    expect(rejects).toMatchObject([{ line: 2, column: 'sensor_value', rule: 'out_of_range' }]);
  });

  it('measurement: names every huge sample, keeps not_a_number for what is no number', () => {
    const problems = validateDocument('measurement', { time_stamp: '2019-05-01T06:00:00-04:00', data: [1, 1e308, -1e308, 1.7e308, '2'] });
    expect(problems.map((p) => [p.field, p.rule])).toEqual([
      ['data[1]', 'out_of_range'],
      ['data[2]', 'out_of_range'],
      ['data[3]', 'out_of_range'],
      ['data[4]', 'not_a_number'],
    ]);
    expect(validateDocument('measurement', { time_stamp: '2019-05-01T06:00:00-04:00', data: [1e100, -1e100] })).toEqual([]);
  });

  it('NDJSON sensor_reading: refuses a huge value', () => {
    expect(validateLine({ kind: 'sensor_reading', sensor: 's', ts: '2024-01-01T00:00:00Z', value: -1.7e308 })).toMatchObject({
      problems: [{ field: 'value', rule: 'out_of_range', message: expect.stringContaining('beyond ±1e+100') }],
    });
  });
});
