import type { PartitionInterval } from '@sluice/config';

/** The time-partitioned data tables and the column each is partitioned on. Identifiers come only from here. */
export const PARTITIONED_TABLES = {
  raw_sensor_data: 'ts',
  detection_events: 'detection_time',
  log_lines: 'ts',
} as const;

export type PartitionedTable = keyof typeof PARTITIONED_TABLES;

export const PARTITIONED_TABLE_NAMES = Object.keys(PARTITIONED_TABLES) as PartitionedTable[];

/** The start (UTC) of the interval holding `t`: midnight, the Monday of its week, or the 1st of its month. */
export function intervalStart(t: Date, interval: PartitionInterval): Date {
  const d = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), interval === 'month' ? 1 : t.getUTCDate()));
  if (interval === 'week') d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  return d;
}

/** `start` moved by `n` intervals (UTC). */
export function addIntervals(start: Date, interval: PartitionInterval, n: number): Date {
  const d = new Date(start.getTime());
  if (interval === 'month') d.setUTCMonth(d.getUTCMonth() + n);
  else d.setUTCDate(d.getUTCDate() + n * (interval === 'week' ? 7 : 1));
  return d;
}

/** `<table>_p<yyyymmdd>` of the range start (UTC). */
export function partitionName(table: PartitionedTable, from: Date): string {
  const iso = from.toISOString();
  return `${table}_p${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}`;
}

export function defaultPartitionName(table: PartitionedTable): string {
  return `${table}_default`;
}

/** A SQL timestamptz literal of a date (only ever made from a Date, never from input text). */
export function tsLiteral(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new Error('invalid partition bound');
  return `'${d.toISOString()}'::timestamptz`;
}
