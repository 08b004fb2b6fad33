/**
 * The tables files load their records into, in the order they are listed wherever counts are shown.
 * Rows of raw_sensor_data are readings; the rows of every other table are counted under their own name.
 * (sensors, aggregated_metrics and the ledger itself are kept up to date by loads but are not counted.)
 */
export const DATA_TABLES = ['raw_sensor_data', 'log_lines', 'measurements', 'vehicles_status', 'detection_events'] as const;
export type DataTable = (typeof DATA_TABLES)[number];

/** The table whose rows are readings. */
export const READINGS_TABLE: DataTable = 'raw_sensor_data';

/** What a row of each table is called, one and many. */
export const DATA_TABLE_NOUNS: Readonly<Record<DataTable, { one: string; many: string }>> = {
  raw_sensor_data: { one: 'reading', many: 'readings' },
  log_lines: { one: 'log line', many: 'log lines' },
  measurements: { one: 'measurement', many: 'measurements' },
  vehicles_status: { one: 'vehicle status', many: 'vehicle statuses' },
  detection_events: { one: 'detection', many: 'detections' },
};

/** Rows written, per table; a table the file wrote no row to is left out. */
export type RowsByTable = Partial<Record<DataTable, number>>;

/** The JSON-schema properties of a RowsByTable (an integer per table), for the API's documentation. */
export const ROWS_BY_TABLE_PROPERTIES: Readonly<Record<DataTable, { type: 'integer' }>> = Object.fromEntries(DATA_TABLES.map((t) => [t, { type: 'integer' }])) as Record<DataTable, { type: 'integer' }>;

export function isDataTable(name: string): name is DataTable {
  return (DATA_TABLES as readonly string[]).includes(name);
}

/** Adds counts up per table, leaving out the tables that end at 0 (any key not a data table is dropped). */
export function addRows(...counts: ReadonlyArray<Readonly<Record<string, number | undefined>> | null | undefined>): RowsByTable {
  const sum: RowsByTable = {};
  for (const t of DATA_TABLES) {
    let n = 0;
    for (const c of counts) n += Number(c?.[t] ?? 0);
    if (n) sum[t] = n;
  }
  return sum;
}

/** All rows of every table together. */
export function totalRows(counts: Readonly<RowsByTable> | null | undefined): number {
  let n = 0;
  for (const t of DATA_TABLES) n += counts?.[t] ?? 0;
  return n;
}

/** The readings among the counts: the rows of raw_sensor_data. */
export function readingsOf(counts: Readonly<RowsByTable> | null | undefined): number {
  return counts?.[READINGS_TABLE] ?? 0;
}

/**
 * Counts in words, table by table in DATA_TABLES order: `12,000 readings, 1 log line`; `none` when there are
 * none. `format` writes a number (thousands separators, …).
 */
export function describeRows(counts: Readonly<RowsByTable> | null | undefined, format: (n: number) => string = String, none = 'no rows'): string {
  const parts = DATA_TABLES.filter((t) => counts?.[t]).map((t) => {
    const n = counts?.[t] ?? 0;
    return `${format(n)} ${n === 1 ? DATA_TABLE_NOUNS[t].one : DATA_TABLE_NOUNS[t].many}`;
  });
  return parts.length ? parts.join(', ') : none;
}
