import type { ProcessorConfig } from '@sluice/config';
import type { LoadOptions } from './kind-loader';

/** The load-policy variables of a config (the processor's, or the ingest-api's for POST /check). */
export type LoadPolicyVariables = Pick<
  ProcessorConfig,
  'retention' | 'INVALID_ROWS' | 'MAX_INVALID_RATIO' | 'MIN_INVALID_ROWS' | 'metricRanges' | 'NAIVE_TIMEZONE' | 'MAX_JSON_DOCUMENT_BYTES' | 'MAX_LINE_BYTES' | 'MAX_JSON_DEPTH' | 'MAX_CSV_COLUMNS'
>;

/** The options a file is loaded (or checked) by: the load policies as `config` sets them, retention horizons as of now. */
export function loadPolicyOptions(config: LoadPolicyVariables, now = Date.now()): LoadOptions {
  const { rawMs, logMs } = config.retention;
  return {
    notBefore: { rawMicros: rawMs === undefined ? undefined : (now - rawMs) * 1000, logMicros: logMs === undefined ? undefined : (now - logMs) * 1000 },
    invalidRows: config.INVALID_ROWS,
    maxInvalidRatio: config.MAX_INVALID_RATIO,
    minInvalidRows: config.MIN_INVALID_ROWS,
    ranges: config.metricRanges,
    naiveTimeZone: config.NAIVE_TIMEZONE,
    maxJsonDocumentBytes: config.MAX_JSON_DOCUMENT_BYTES,
    maxLineBytes: config.MAX_LINE_BYTES,
    maxJsonDepth: config.MAX_JSON_DEPTH,
    maxCsvColumns: config.MAX_CSV_COLUMNS,
  };
}
