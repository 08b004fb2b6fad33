import { addRows, DATA_TABLES, describeRows, isDataTable, readingsOf, totalRows } from './data-tables';

describe('data tables', () => {
  it('adds counts per table and leaves out tables at 0 and names that are not data tables', () => {
    expect(addRows({ raw_sensor_data: 7 }, { raw_sensor_data: 3, log_lines: 2 }, null, { measurements: 0, sensors: 4 })).toEqual({ raw_sensor_data: 10, log_lines: 2 });
    expect(addRows()).toEqual({});
  });

  it('tells readings from the other rows', () => {
    const counts = { raw_sensor_data: 210987, log_lines: 8 };
    expect(readingsOf(counts)).toBe(210987);
    expect(readingsOf({ log_lines: 8 })).toBe(0);
    expect(totalRows(counts)).toBe(210995);
    expect(totalRows(null)).toBe(0);
  });

  it('describes counts in words, in table order', () => {
    expect(describeRows({ log_lines: 1, raw_sensor_data: 12000 }, (n) => n.toLocaleString('en-US'))).toBe('12,000 readings, 1 log line');
    expect(describeRows({ vehicles_status: 2, detection_events: 1, measurements: 1 })).toBe('1 measurement, 2 vehicle statuses, 1 detection');
    expect(describeRows({})).toBe('no rows');
    expect(describeRows({ raw_sensor_data: 0 }, String, '0 rows')).toBe('0 rows');
  });

  it('knows its tables', () => {
    expect(DATA_TABLES.every(isDataTable)).toBe(true);
    expect(isDataTable('sensors')).toBe(false);
  });
});
