import { ApiProperty } from '@nestjs/swagger';
import type { CommonConfig } from '@sluice/config';
import { microsToIso, parseTimeBound } from '@sluice/formats';

/** The response header that names the retention horizon a requested range reaches before. */
export const RETENTION_HEADER = 'Sluice-Retention-Horizon';
export const RETENTION_NOTE = 'data before the horizon has expired';

/** The kinds of data that expire, each by its own retention variable. */
export type RetainedData = 'readings' | 'hourly_aggregates' | 'daily_aggregates' | 'logs';

const RETENTION_VARIABLE: Record<RetainedData, 'RAW_RETENTION' | 'HOURLY_AGGREGATE_RETENTION' | 'DAILY_AGGREGATE_RETENTION' | 'LOG_RETENTION'> = {
  readings: 'RAW_RETENTION',
  hourly_aggregates: 'HOURLY_AGGREGATE_RETENTION',
  daily_aggregates: 'DAILY_AGGREGATE_RETENTION',
  logs: 'LOG_RETENTION',
};

export class RetentionNoteDto {
  @ApiProperty({ format: 'date-time', example: '2025-10-07T10:00:00.000000Z', description: 'Now minus the retention period: data older than this may have been dropped.' })
  horizon!: string;

  @ApiProperty({ example: RETENTION_NOTE })
  note!: string;
}

/**
 * The retention note of a range starting at `from` (a validated query bound; none: from the beginning), when
 * the data's retention is set and the range starts before now minus it; undefined otherwise. The answer is
 * still given: what is kept of the range.
 */
export function retentionNote(config: CommonConfig, data: RetainedData, from: string | undefined, nowMs: number = Date.now()): RetentionNoteDto | undefined {
  const ms = config.retention;
  const period = { readings: ms.rawMs, hourly_aggregates: ms.hourlyAggregateMs, daily_aggregates: ms.dailyAggregateMs, logs: ms.logMs }[data];
  if (period === undefined) return undefined;
  const horizonUs = (nowMs - period) * 1000;
  if (from !== undefined && parseTimeBound(from) >= horizonUs) return undefined;
  return { horizon: microsToIso(horizonUs), note: RETENTION_NOTE };
}

/** Sets the header of a note on a response (Express's or Node's). */
export function setRetentionHeader(res: { setHeader(name: string, value: string): unknown }, note: RetentionNoteDto | undefined): void {
  if (note) res.setHeader(RETENTION_HEADER, note.horizon);
}

/**
 * OpenAPI: the header, for the `headers` of an endpoint's ok response whose range is subject to the retention
 * of `data`.
 */
export function retentionHeaderDoc(...data: RetainedData[]): Record<string, { description: string; schema: { type: 'string'; format: 'date-time' } }> {
  const vars = data.map((d) => `\`${RETENTION_VARIABLE[d]}\``).join(' or ');
  return {
    [RETENTION_HEADER]: {
      description:
        `Sent when ${vars} is set and the range starts before now minus it (or has no \`from\`): the horizon, data before which ` +
        'has expired. The answer holds what is kept of the range.',
      schema: { type: 'string', format: 'date-time' },
    },
  };
}
