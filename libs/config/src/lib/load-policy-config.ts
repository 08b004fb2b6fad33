import { Type } from 'class-transformer';
import { IsIn, IsInt, IsNumber, Max, Min } from 'class-validator';
import { DEFAULT_METRIC_RANGES, parseMetricRanges, type MetricRanges } from './parsers';
import { IsMetricRanges, IsTimeZone } from './validators';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a mixin's base must take `...args: any[]` (TS2545)
type ConfigClass = new (...args: any[]) => object;

/**
 * The policies and limits files are loaded with: the processor loads by them, and `POST /check` (ingest-api) judges
 * by them, so each is declared, validated and defaulted once for both.
 */
export function WithLoadPolicy<TBase extends ConfigClass>(Base: TBase) {
  class LoadPolicyConfig extends Base {
    @IsIn(['skip', 'reject'])
    INVALID_ROWS: 'skip' | 'reject' = 'skip';

    @Type(() => Number)
    @IsNumber()
    @Min(0)
    @Max(1)
    MAX_INVALID_RATIO = 0.05;

    /** MAX_INVALID_RATIO quarantines a file only once this many of its rows are bad (a small sample with a typo loads). */
    @Type(() => Number)
    @IsInt()
    @Min(0)
    MIN_INVALID_ROWS = 10;

    @IsTimeZone()
    NAIVE_TIMEZONE = 'UTC';

    @IsMetricRanges()
    METRIC_RANGES = DEFAULT_METRIC_RANGES;

    /**
     * Largest single-document JSON file, in bytes (default 64 GiB): a safety limit only, as documents stream
     * item by item in bounded memory (MAX_FILE_BYTES applies too).
     */
    @Type(() => Number)
    @IsInt()
    @Min(1)
    MAX_JSON_DOCUMENT_BYTES = 64 * 1024 ** 3;

    /**
     * Longest NDJSON line (refused as line_too_long), longest item of a JSON document (refused as too_long)
     * and longest CSV header line, in bytes.
     */
    @Type(() => Number)
    @IsInt()
    @Min(1)
    MAX_LINE_BYTES = 1024 ** 2;

    /** Most columns of a sensor CSV header; a wider header quarantines the file (invalid_header). */
    @Type(() => Number)
    @IsInt()
    @Min(3)
    @Max(100_000)
    MAX_CSV_COLUMNS = 10_000;

    /** Deepest JSON nesting accepted; deeper is refused as json_too_deep. */
    @Type(() => Number)
    @IsInt()
    @Min(2)
    @Max(1000)
    MAX_JSON_DEPTH = 64;

    get metricRanges(): MetricRanges {
      return parseMetricRanges(this.METRIC_RANGES);
    }
  }
  return LoadPolicyConfig;
}
