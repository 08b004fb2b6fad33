import { magnitudeProblem, MAX_ABS_VALUE, validateDocument, validateLine } from '../../index';

// Values whose statistics overflow float8 (the mean and std dev of ±1.7e308 are NaN) are refused.
describe('largest stored magnitude', () => {
  it('accepts ±MAX_ABS_VALUE and refuses anything beyond as out_of_range', () => {
    expect(magnitudeProblem(MAX_ABS_VALUE, 'v')).toBeNull();
    expect(magnitudeProblem(-MAX_ABS_VALUE, 'v')).toBeNull();
    expect(magnitudeProblem(1.7e308, 'light')).toEqual({ rule: 'out_of_range', message: 'light 1.7e+308 is beyond ±1e+100, the largest magnitude Sluice stores' });
    expect(magnitudeProblem(-1e101, 'v')).toMatchObject({ rule: 'out_of_range' });
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
