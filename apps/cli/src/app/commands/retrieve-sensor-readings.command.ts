import type { Command } from 'commander';
import { Option } from 'commander';
import type { CliContext } from '../cli-context';
import { CliError } from '../cli-error';
import { CsvWriter } from '@sluice/formats';
import { type CliIo, escapeControls, OUTPUT_FORMATS, type OutputFormat, renderTable, terminalJson } from '../output';
import { positiveInt } from '../options';
import { QueryApiClient, resolveQueryKey } from '../query-api.client';
import { toApiTimestamp } from '../timestamps';

interface Reading {
  ts: string;
  value: number;
  file_id: string;
}
interface ReadingsPage {
  sensor: string;
  readings: Reading[];
  next_cursor: string | null;
}

interface Options {
  sensorName: string;
  startTimestamp: string;
  endTimestamp: string;
  pageNumber?: number;
  pageSize?: number;
  format: OutputFormat;
}

/** Largest page the API serves; also the page size used to walk a whole range. */
const MAX_PAGE = 10000;

export function registerRetrieveSensorReadings(program: Command, ctx: () => CliContext, io: CliIo): void {
  program
    .command('retrieve-sensor-readings')
    .description('Print the readings of one sensor in [start, end) through the query API (start included, end excluded).')
    .requiredOption('--sensor-name <name>', 'sensor name, e.g. sensor_00007 or b8:27:eb:bf:9d:51/temp')
    .requiredOption('--start-timestamp <iso>', 'first timestamp included; ISO-8601, without an offset it is UTC')
    .requiredOption('--end-timestamp <iso>', 'end of the range, excluded; ISO-8601, without an offset it is UTC')
    .option('--page-number <n>', 'page to print, from 1 (API page)', positiveInt('--page-number'))
    .option('--page-size <n>', `readings per page, at most ${MAX_PAGE} (API page_size)`, positiveInt('--page-size', MAX_PAGE))
    .addOption(new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('table'))
    .addHelpText(
      'after',
      `
Without --page-number/--page-size the whole range is printed (csv streams it straight from the API).
Talks to QUERY_API_URL (default http://localhost:3002) with QUERY_API_KEY, or the key npm start keeps
in .sluice/api-keys.json.

Example:
  sluice retrieve-sensor-readings --sensor-name sensor_00007 \\
    --start-timestamp "2012-12-31T23:07:00+00" --end-timestamp "2013-02-16T11:03:00+00" \\
    --page-number 2 --page-size 10`,
    )
    .action(async (opts: Options) => {
      const from = toApiTimestamp(opts.startTimestamp, '--start-timestamp');
      const to = toApiTimestamp(opts.endTimestamp, '--end-timestamp');
      if (Date.parse(from) > Date.parse(to)) throw CliError.usage('--end-timestamp must not be before --start-timestamp');
      const c = ctx();
      const api = new QueryApiClient(c.config.QUERY_API_URL, resolveQueryKey(c.config));
      const path = `/sensors/${encodeURIComponent(opts.sensorName)}/readings`;
      const range = new URLSearchParams({ from, to });
      const paged = opts.pageNumber !== undefined || opts.pageSize !== undefined;

      if (!paged && opts.format === 'csv') {
        const res = await api.get(`${path}?${range.toString()}`, 'text/csv');
        for await (const chunk of res.body ?? []) if (!io.out.write(chunk as Uint8Array)) await new Promise((r) => io.out.once('drain', r));
        return;
      }

      let readings: Reading[];
      if (paged) {
        const q = new URLSearchParams(range);
        q.set('page', String(opts.pageNumber ?? 1));
        if (opts.pageSize !== undefined) q.set('page_size', String(opts.pageSize));
        readings = (await api.json<ReadingsPage>(`${path}?${q.toString()}`)).readings;
      } else {
        readings = [];
        let cursor: string | null = null;
        do {
          const q = new URLSearchParams(range);
          q.set('limit', String(MAX_PAGE));
          if (cursor) q.set('cursor', cursor);
          const page: ReadingsPage = await api.json<ReadingsPage>(`${path}?${q.toString()}`);
          readings.push(...page.readings);
          cursor = page.next_cursor;
        } while (cursor);
      }
      io.out.write(render(opts.format, opts.sensorName, readings));
    });
}

/** The same columns and cells as the API's CSV export. */
const READINGS_CSV = new CsvWriter(
  [
    { name: 'ts', kind: 'text' },
    { name: 'value', kind: 'number' },
    { name: 'file_id', kind: 'text' },
  ],
  { neutraliseFormulas: true },
);

function render(format: OutputFormat, sensor: string, readings: Reading[]): string {
  switch (format) {
    case 'json':
      return terminalJson(readings) + '\n';
    case 'csv':
      return READINGS_CSV.header + readings.map((r) => READINGS_CSV.line([r.ts, r.value, r.file_id])).join('');
    case 'table':
      if (readings.length === 0) return `no readings of ${escapeControls(sensor)} in that range\n`;
      return renderTable(['timestamp (UTC)', 'value', 'file'], readings.map((r) => [r.ts, r.value, r.file_id])) + '\n';
  }
}
