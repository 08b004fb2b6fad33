import { Readable } from 'node:stream';
import { readLongCsv, readMappingCsv, readWideCsv, SensorCsvFormatError, type RowReject, type SensorCsvBatch } from '../../index';

const opts = { ranges: { temp: { min: -50, max: 50 }, co: { min: 0, max: 1 } }, naiveTimeZone: 'UTC' };

/** Feeds `text` in small chunks so records straddle chunk borders. */
function input(text: string | Buffer, chunk = 7): Readable {
  const buf = typeof text === 'string' ? Buffer.from(text) : text;
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) parts.push(buf.subarray(i, i + chunk));
  return Readable.from(parts);
}

async function collect<T>(gen: AsyncGenerator<SensorCsvBatch<T>>): Promise<{ rows: T[]; rejects: RowReject[] }> {
  const rows: T[] = [];
  const rejects: RowReject[] = [];
  for await (const b of gen) {
    rows.push(...b.rows);
    rejects.push(...b.rejects);
  }
  return { rows, rejects };
}

describe(readWideCsv.name, () => {
  const header = '"ts","device","co","light","temp"\n';

  it('refuses a reading older than the retention horizon (late_beyond_retention) and keeps the one at it', async () => {
    const text = `${header}"1500000000","d","0.1","True","20"\n"1499999999.5","d","0.1","True","20"\n`;
    const { rows, rejects } = await collect(readWideCsv(input(text), { ...opts, notBeforeMicros: 1.5e15 }));
    expect(rows.map((r) => r.line)).toEqual([2]);
    expect(rejects).toEqual([expect.objectContaining({ line: 3, column: 'ts', rule: 'late_beyond_retention' })]);
  });

  it('refuses a record longer than MAX_RECORD_CHARS instead of buffering it (an unclosed quote, no line ends)', async () => {
    const endless = Readable.from((function* () {
      yield Buffer.from(`${header}"1.5E9","d","`);
      for (let i = 0; i < 40; i++) yield Buffer.alloc(64 * 1024, 0x61);
    })());
    await expect(collect(readWideCsv(endless, opts))).rejects.toMatchObject({ reason: { rule: 'malformed_csv' } });
  });

  it('takes ISO-8601 timestamps (with an offset, or wall time in NAIVE_TIMEZONE) as well as epoch seconds', async () => {
    const file = `ts,device,temp\n1594512094.5,d,20\n2020-07-12T00:01:34.5Z,d,21\n2020-07-12 02:01:34.5+02:00,d,22\n2020-07-12T02:01:34.5,d,23\n12/07/2020,d,24\n`;
    const { rows, rejects } = await collect(readWideCsv(input(file), { ...opts, naiveTimeZone: 'Europe/Berlin' }));
    expect(rows.map((r) => r.tsMicros)).toEqual([1594512094500000, 1594512094500000, 1594512094500000, 1594512094500000]);
    expect(rejects).toEqual([expect.objectContaining({ line: 6, column: 'ts', rule: 'invalid_timestamp', message: expect.stringContaining('ISO-8601') })]);
  });

  it('reads `;`-separated lines, with decimal commas; a `,`-separated file keeps the comma as its separator', async () => {
    const semi = `ts;device;temp;co\n2020-07-12T00:01:34Z;d;21,5;0,25\n2020-07-12T00:01:35Z;d;1,2,3;0.5\n`;
    const { rows, rejects } = await collect(readWideCsv(input(semi), opts));
    expect(rows).toEqual([expect.objectContaining({ device: 'd', values: [21.5, 0.25] })]);
    expect(rejects).toEqual([expect.objectContaining({ line: 3, column: 'temp', rule: 'not_a_number' })]);
    const tabs = `ts\tdevice\ttemp\n1594512094\td\t-3,75\n`;
    expect((await collect(readWideCsv(input(tabs), opts))).rows).toEqual([expect.objectContaining({ values: [-3.75] })]);
    const commas = `ts,device,temp\n1594512094,d,"21,5"\n`;
    expect((await collect(readWideCsv(input(commas), opts))).rejects).toEqual([expect.objectContaining({ rule: 'not_a_number' })]);
  });

  /** A wide CSV of `n` good lines with `bad` as line `at` (1-based, the header is line 1). */
  const withLine = (n: number, at: number, bad: Buffer) => {
    const good = (i: number) => Buffer.from(`"${1.5e9 + i}","dev","0.5","True","20"\n`);
    return Buffer.concat([Buffer.from(header), ...Array.from({ length: n }, (_, i) => (i + 2 === at ? bad : good(i)))]);
  };

  it('refuses a line with a NUL (here past the first 64 KiB) as invalid_character, and reads every other line', async () => {
    const file = withLine(3000, 2500, Buffer.from('"1.6E9","d\u0000x","0.5","True","20"\n'));
    const { rows, rejects } = await collect(readWideCsv(input(file, 65536), opts));
    expect(rows).toHaveLength(2999);
    expect(rejects).toEqual([expect.objectContaining({ line: 2500, column: 'device', rule: 'invalid_character', value: 'd\uFFFDx' })]);
  });

  it('refuses a line with bytes that are not UTF-8 as invalid_utf8 wherever it is, never loading U+FFFD', async () => {
    const bad = Buffer.concat([Buffer.from('"1.6E9","na'), Buffer.from([0xff, 0xfe]), Buffer.from('me","0.5","True","20"\n')]);
    for (const at of [3, 2500]) {
      const { rows, rejects } = await collect(readWideCsv(input(withLine(3000, at, bad), 4096), opts));
      expect(rows.map((r) => r.device)).not.toContain('na\uFFFD\uFFFDme');
      expect(rows).toHaveLength(2999);
      expect(rejects).toEqual([expect.objectContaining({ line: at, column: 'device', rule: 'invalid_utf8' })]);
    }
    // A real U+FFFD in a file that is valid UTF-8 is text like any other.
    const { rows } = await collect(readWideCsv(input(`${header}"1.5E9","d\uFFFD","0.5","True","20"\n`), opts));
    expect(rows[0].device).toBe('d\uFFFD');
  });

  it('reads a header of any length whole, up to MAX_CSV_COLUMNS columns and MAX_LINE_BYTES bytes', async () => {
    const names = Array.from({ length: 8000 }, (_, i) => `m${i}`);
    const wide = `ts,device,${names.join(',')}\n1500000000,a,${names.map(() => '1').join(',')}\n`;
    const batches: Array<SensorCsvBatch<unknown>> = [];
    for await (const b of readWideCsv(input(wide, 65536), { ...opts, maxColumns: 8002 })) batches.push(b);
    expect(batches[0].header.metrics).toEqual(names);
    expect(batches[0].rows).toHaveLength(1);
    await expect(collect(readWideCsv(input(wide, 65536), { ...opts, maxColumns: 8001 }))).rejects.toMatchObject({ reason: { rule: 'invalid_header', message: expect.stringContaining('MAX_CSV_COLUMNS') } });
    await expect(collect(readWideCsv(input(wide, 65536), { ...opts, maxHeaderBytes: 20_000 }))).rejects.toMatchObject({ reason: { rule: 'invalid_header', message: expect.stringContaining('MAX_LINE_BYTES') } });
  });

  it('reads quoted lines, True/False and µs timestamps', async () => {
    const { rows, rejects } = await collect(readWideCsv(input(`${header}"1.5945120943859746E9","b8:27","0.0049","True","22.7"\n`), opts));
    expect(rejects).toEqual([]);
    expect(rows).toEqual([{ line: 2, tsMicros: 1594512094385975, device: 'b8:27', values: [0.0049, 1, 22.7] }]);
  });

  it('accepts BOM, CRLF, ; and tab delimiters', async () => {
    for (const text of ['\uFEFFts;device;temp\r\n1.5E9;d;1\r\n', 'ts\tdevice\ttemp\n1.5E9\td\t1\n']) {
      const { rows } = await collect(readWideCsv(input(text), opts));
      expect(rows).toEqual([{ line: 2, tsMicros: 1.5e15, device: 'd', values: [1] }]);
    }
  });

  it('skips blank lines before the header, keeping the line numbers of the file', async () => {
    for (const lead of ['\n\n', '\r\n \t\r\n', '\uFEFF\n \n', '\r\r']) {
      for (const chunk of [1, 7, 4096]) {
        const { rows, rejects } = await collect(readWideCsv(input(`${lead}${header}"1.5E9","d","0.1","True","20"\n"1.5E9","d","x","True","20"\n`, chunk), opts));
        expect(rows).toEqual([{ line: 4, tsMicros: 1.5e15, device: 'd', values: [0.1, 1, 20] }]);
        expect(rejects.map((r) => [r.line, r.column])).toEqual([[5, 'co']]);
      }
    }
    // A header whose first cell is empty keeps its leading tab after blank lines (long CSV with an index column).
    const u = '0b8e3f2c-1a2b-4c3d-8e9f-0123456789ab';
    const { rows } = await collect(readLongCsv(input(`\n\ttimestamp\tsensor_uuid\tsensor_value\n0\t2013-01-05 10:00:00Z\t${u}\t21\n`, 3), opts));
    expect(rows).toEqual([{ line: 3, tsMicros: Date.UTC(2013, 0, 5, 10) * 1000, uuid: u, value: 21 }]);
    await expect(collect(readWideCsv(input('\n \r\n\t'), opts))).rejects.toMatchObject({ reason: { rule: 'empty_file' } });
  });

  it('reads CR-only line ends (old Mac files) line by line', async () => {
    for (const chunk of [1, 7, 4096]) {
      const { rows, rejects } = await collect(readWideCsv(input(`${header.trimEnd()}\r"1.5E9","d","0.1","True","20"\r\r"1.6E9","d","x","True","20"\r"1.7E9","e","0.2","False","21"\r`, chunk), opts));
      expect(rows.map((r) => [r.line, r.device])).toEqual([
        [2, 'd'],
        [5, 'e'],
      ]);
      expect(rejects.map((r) => [r.line, r.column])).toEqual([[4, 'co']]);
    }
  });

  it('refuses each bad line once, with its first problem, line, column and raw text', async () => {
    const text =
      header +
      '"1.5E9","d","0.1","False","20"\n' + // 2 ok
      '"","","","","-100.0"\n' + // 3 timestamp first
      '"1.5E9","d","INVALID","False","20"\n' + // 4
      '"1.5E9","d","0.1","False","-100.0"\n' + // 5
      '"1.5E9","","0.1","False","20"\n' + // 6
      '"1.5E9","d","0.1"\n' + // 7
      '\n' + // blank line: skipped, still counted as a physical line
      '"1.6E9","d","1","True","50"\n'; // 9 ok (range bounds inclusive)
    const { rows, rejects } = await collect(readWideCsv(input(text), opts));
    expect(rows.map((r) => r.line)).toEqual([2, 9]);
    expect(rejects.map((r) => [r.line, r.column, r.rule])).toEqual([
      [3, 'ts', 'invalid_timestamp'],
      [4, 'co', 'not_a_number'],
      [5, 'temp', 'out_of_range'],
      [6, 'device', 'missing_value'],
      [7, null, 'wrong_field_count'],
    ]);
    expect(rejects[0].raw).toBe('"","","","","-100.0"');
    expect(rejects[1]).toMatchObject({ value: 'INVALID', message: expect.stringMatching(/^line 4: co "INVALID" is not a finite number/) });
    expect(rejects[2].message).toContain('-50..50');
  });

  it('caps the raw text at 500 characters', async () => {
    const { rejects } = await collect(readWideCsv(input(`ts,device,temp\nx,d,${'9'.repeat(900)}\n`), opts));
    expect(rejects[0].raw.length).toBe(500);
  });

  it('treats metrics without a range as unbounded', async () => {
    const { rows } = await collect(readWideCsv(input('ts,device,pressure\n1.5E9,d,123456\n'), opts));
    expect(rows[0].values).toEqual([123456]);
  });

  it('refuses a file with a bad header or of another layout as a whole', async () => {
    await expect(collect(readWideCsv(input('sensor_uuid;sensor_name\n'), opts))).rejects.toMatchObject({ reason: { rule: 'invalid_header' } });
    await expect(collect(readWideCsv(input(''), opts))).rejects.toBeInstanceOf(SensorCsvFormatError);
  });
});

describe(readLongCsv.name, () => {
  const u = '0b8e3f2c-1a2b-4c3d-8e9f-0123456789ab';

  it('refuses a reading older than the retention horizon (late_beyond_retention), on its time column', async () => {
    const text = `;timestamp;sensor_uuid;sensor_value\n0;2013-01-05 10:00:00+00:00;${u};21\n1;2013-01-04 23:59:59+00:00;${u};20\n`;
    const { rows, rejects } = await collect(readLongCsv(input(text), { ...opts, notBeforeMicros: Date.UTC(2013, 0, 5) * 1000 }));
    expect(rows.map((r) => r.line)).toEqual([2]);
    expect(rejects).toEqual([
      expect.objectContaining({ line: 3, column: 'timestamp', rule: 'late_beyond_retention', value: '2013-01-04 23:59:59+00:00', message: expect.stringContaining('RAW_RETENTION') }),
    ]);
  });

  it('reads the pandas layout with offset and naive timestamps in NAIVE_TIMEZONE', async () => {
    const text = `;timestamp;sensor_uuid;sensor_value\n0;2012-12-31 23:07:00+00:00;${u.toUpperCase()};20.5\n1;2013-01-05 10:00:00;${u};21\n`;
    const { rows, rejects } = await collect(readLongCsv(input(text), { ...opts, naiveTimeZone: 'Europe/Paris' }));
    expect(rejects).toEqual([]);
    expect(rows).toEqual([
      { line: 2, tsMicros: Date.UTC(2012, 11, 31, 23, 7) * 1000, uuid: u, value: 20.5 },
      { line: 3, tsMicros: Date.UTC(2013, 0, 5, 9, 0) * 1000, uuid: u, value: 21 },
    ]);
  });

  it('reads a decimal comma in sensor_value of a `;`-separated file', async () => {
    const text = `;timestamp;sensor_uuid;sensor_value\n0;2012-12-31 23:07:00+00:00;${u};20,5\n`;
    expect((await collect(readLongCsv(input(text), opts))).rows).toEqual([expect.objectContaining({ value: 20.5 })]);
  });

  it('refuses bad timestamps, uuids and numbers', async () => {
    const text = `timestamp;sensor_uuid;sensor_value\n2013-13-45 99:00:00;${u};1\n2013-01-05 10:00:00;sensor-abc123;1\n2013-01-05 10:00:00;${u};n/a\n2013-01-05 10:00:00;${u}\n`;
    const { rows, rejects } = await collect(readLongCsv(input(text), opts));
    expect(rows).toEqual([]);
    expect(rejects.map((r) => [r.line, r.column, r.rule])).toEqual([
      [2, 'timestamp', 'invalid_timestamp'],
      [3, 'sensor_uuid', 'invalid_uuid'],
      [4, 'sensor_value', 'not_a_number'],
      [5, null, 'wrong_field_count'],
    ]);
  });
});

describe(readMappingCsv.name, () => {
  it('reads uuid → name and refuses bad lines', async () => {
    const u = '0b8e3f2c-1a2b-4c3d-8e9f-0123456789ab';
    const { rows, rejects } = await collect(readMappingCsv(input(`sensor_uuid;sensor_name\n${u};sensor_00001\nnope;x\n${u};\n`)));
    expect(rows).toEqual([{ line: 2, uuid: u, name: 'sensor_00001' }]);
    expect(rejects.map((r) => [r.line, r.rule])).toEqual([
      [3, 'invalid_uuid'],
      [4, 'missing_value'],
    ]);
  });
});

// Beyond ±MAX_ABS_VALUE statistics overflow float8 (±1.7e308 in one hour gave NaN): such values are refused.
describe('values beyond ±MAX_ABS_VALUE', () => {
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
});
