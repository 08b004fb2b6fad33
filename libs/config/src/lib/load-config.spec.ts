import { CommonConfig, contractsDir, IngestApiConfig, ProcessorConfig, QueryApiConfig, WatcherConfig } from './app-configs';
import { CliConfig } from './cli-config';
import { ConfigError, loadConfig } from './load-config';
import { formatBytes, parseByteSize, parseDuration } from './parsers';

describe(loadConfig.name, () => {
  it('applies the SPEC defaults when nothing is set', () => {
    const c = loadConfig(ProcessorConfig, {});
    expect(c.DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/sluice');
    expect(c.INVALID_ROWS).toBe('skip');
    expect(c.MAX_INVALID_RATIO).toBe(0.05);
    expect(c.metricRanges.temp).toEqual({ min: -50, max: 50 });
  });

  it('gives the ingest-api (POST /check) the processor’s load policies, with the same defaults and the same validation', () => {
    const policy = (c: ProcessorConfig | IngestApiConfig) => ({
      INVALID_ROWS: c.INVALID_ROWS,
      MAX_INVALID_RATIO: c.MAX_INVALID_RATIO,
      MIN_INVALID_ROWS: c.MIN_INVALID_ROWS,
      NAIVE_TIMEZONE: c.NAIVE_TIMEZONE,
      metricRanges: c.metricRanges,
      MAX_JSON_DOCUMENT_BYTES: c.MAX_JSON_DOCUMENT_BYTES,
      MAX_LINE_BYTES: c.MAX_LINE_BYTES,
      MAX_CSV_COLUMNS: c.MAX_CSV_COLUMNS,
      MAX_JSON_DEPTH: c.MAX_JSON_DEPTH,
    });
    expect(policy(loadConfig(IngestApiConfig, {}))).toEqual(policy(loadConfig(ProcessorConfig, {})));
    const set = { INVALID_ROWS: 'reject', MAX_INVALID_RATIO: '0.2', METRIC_RANGES: 'temp=0..10' };
    expect(policy(loadConfig(IngestApiConfig, set))).toEqual(policy(loadConfig(ProcessorConfig, set)));
    expect(() => loadConfig(IngestApiConfig, { MAX_INVALID_RATIO: '2' })).toThrow(/MAX_INVALID_RATIO/);
  });

  it('converts numbers and keeps overrides', () => {
    const c = loadConfig(WatcherConfig, { WATCHER_PORT: '4003', DROPZONE_DIR: '/data/drop' });
    expect(c.WATCHER_PORT).toBe(4003);
    expect(c.DROPZONE_DIR).toBe('/data/drop');
  });

  it('keeps the stream at one copy unless NATS_STREAM_REPLICAS names 1 to 5', () => {
    expect(loadConfig(WatcherConfig, {}).NATS_STREAM_REPLICAS).toBe(1);
    expect(loadConfig(WatcherConfig, { NATS_STREAM_REPLICAS: '3' }).NATS_STREAM_REPLICAS).toBe(3);
    expect(() => loadConfig(WatcherConfig, { NATS_STREAM_REPLICAS: '0' })).toThrow(/NATS_STREAM_REPLICAS/);
    expect(() => loadConfig(WatcherConfig, { NATS_STREAM_REPLICAS: 'three' })).toThrow(/NATS_STREAM_REPLICAS/);
  });

  it('reads booleans strictly', () => {
    expect(loadConfig(QueryApiConfig, { ALLOW_ANONYMOUS: 'true' }).ALLOW_ANONYMOUS).toBe(true);
    expect(loadConfig(QueryApiConfig, { ALLOW_ANONYMOUS: 'no' }).ALLOW_ANONYMOUS).toBe(false);
    expect(() => loadConfig(QueryApiConfig, { ALLOW_ANONYMOUS: 'maybe' })).toThrow(/ALLOW_ANONYMOUS/);
  });

  it('neutralises CSV formulas by default and bounds SSE clients (CSV_FORMULA_ESCAPE, MAX_SSE_CLIENTS)', () => {
    expect(loadConfig(QueryApiConfig, {})).toMatchObject({ CSV_FORMULA_ESCAPE: true, MAX_SSE_CLIENTS: 2000 });
    expect(loadConfig(QueryApiConfig, { CSV_FORMULA_ESCAPE: 'false', MAX_SSE_CLIENTS: '10' })).toMatchObject({ CSV_FORMULA_ESCAPE: false, MAX_SSE_CLIENTS: 10 });
    expect(() => loadConfig(QueryApiConfig, { CSV_FORMULA_ESCAPE: 'off' })).toThrow(/CSV_FORMULA_ESCAPE/);
    for (const bad of ['0', 'many', '1.5']) expect(() => loadConfig(QueryApiConfig, { MAX_SSE_CLIENTS: bad })).toThrow(/MAX_SSE_CLIENTS/);
  });

  it('bounds MAX_CSV_COLUMNS, the widest CSV header read', () => {
    expect(loadConfig(ProcessorConfig, {}).MAX_CSV_COLUMNS).toBe(10_000);
    expect(loadConfig(ProcessorConfig, { MAX_CSV_COLUMNS: '50000' }).MAX_CSV_COLUMNS).toBe(50_000);
    for (const bad of ['2', '100001', 'many', '1.5']) expect(() => loadConfig(ProcessorConfig, { MAX_CSV_COLUMNS: bad })).toThrow(/MAX_CSV_COLUMNS/);
  });

  it('listens on loopback by default; BIND_ADDRESS takes an IP address, METRICS_API_KEYS a list', () => {
    expect(loadConfig(WatcherConfig, {}).BIND_ADDRESS).toBe('127.0.0.1');
    expect(loadConfig(WatcherConfig, {}).metricsKeys).toEqual([]);
    expect(loadConfig(QueryApiConfig, { BIND_ADDRESS: '::' }).BIND_ADDRESS).toBe('::');
    expect(loadConfig(ProcessorConfig, { BIND_ADDRESS: '0.0.0.0', METRICS_API_KEYS: 'a, b' }).metricsKeys).toEqual(['a', 'b']);
    expect(() => loadConfig(ProcessorConfig, { BIND_ADDRESS: 'everywhere' })).toThrow(/BIND_ADDRESS/);
  });

  it('keeps contracts beside the drop folder unless CONTRACTS_DIR says where', () => {
    expect(contractsDir(loadConfig(ProcessorConfig, {}))).toBe('contracts');
    expect(contractsDir(loadConfig(WatcherConfig, { DROPZONE_DIR: '/data/drop' }))).toBe('/data/contracts');
    expect(contractsDir(loadConfig(IngestApiConfig, { DROPZONE_DIR: '/data/drop', CONTRACTS_DIR: '/etc/sluice/contracts' }))).toBe('/etc/sluice/contracts');
    expect(contractsDir(loadConfig(CliConfig, { DROPZONE_DIR: 'var/drop/' }))).toBe('var/contracts');
    // The query-api's drop folder is optional; without one, the working directory's.
    expect(contractsDir(loadConfig(QueryApiConfig, {}))).toBe('./contracts');
    expect(contractsDir(loadConfig(CommonConfig, {}))).toBe('./contracts');
  });

  it('makes contract tables in the schema datasets unless CONTRACTS_SCHEMA names another of its own', () => {
    expect(loadConfig(ProcessorConfig, {}).CONTRACTS_SCHEMA).toBe('datasets');
    expect(loadConfig(QueryApiConfig, { CONTRACTS_SCHEMA: 'lab_data' }).CONTRACTS_SCHEMA).toBe('lab_data');
    expect(loadConfig(QueryApiConfig, { CONTRACTS_SCHEMA: 'publications' }).CONTRACTS_SCHEMA).toBe('publications');
    for (const bad of ['public', 'pg_catalog', 'pg_temp', 'information_schema', 'Datasets', '1data', 'my-data', 'a'.repeat(64), 'x;drop']) {
      expect(() => loadConfig(ProcessorConfig, { CONTRACTS_SCHEMA: bad })).toThrow(/CONTRACTS_SCHEMA/);
    }
  });

  it('names every bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig(ProcessorConfig, { PROCESSOR_PORT: 'abc', INVALID_ROWS: 'maybe', METRIC_RANGES: 'temp=5' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('PROCESSOR_PORT');
    expect(message).toContain('INVALID_ROWS');
    expect(message).toContain('METRIC_RANGES');
  });
});

describe('retention and size settings', () => {
  it('reads periods in hours, days and weeks, and leaves unset ones undefined', () => {
    expect(parseDuration('36h')).toBe(36 * 3_600_000);
    expect(parseDuration('90d')).toBe(90 * 86_400_000);
    expect(parseDuration('2w')).toBe(14 * 86_400_000);
    expect(parseDuration(undefined)).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
    expect(() => parseDuration('3 months')).toThrow(/not a period/);
    expect(() => parseDuration('0d')).toThrow(/not a period/);
  });

  it('reads sizes in bytes and binary or decimal units', () => {
    expect(parseByteSize('1GiB')).toBe(1024 ** 3);
    expect(parseByteSize('512MiB')).toBe(512 * 1024 ** 2);
    expect(parseByteSize('2GB')).toBe(2e9);
    expect(parseByteSize('0')).toBe(0);
    expect(parseByteSize(4096)).toBe(4096);
    expect(() => parseByteSize('lots')).toThrow(/not a size/);
  });
});

describe('retention settings in the environment', () => {
  it('refuses a period it cannot read, naming the variable', () => {
    expect(() => loadConfig(WatcherConfig, { RAW_RETENTION: 'forever' })).toThrow(/RAW_RETENTION/);
    expect(() => loadConfig(WatcherConfig, { MAINTENANCE_CRON: 'hourly' })).toThrow(/MAINTENANCE_CRON/);
    expect(loadConfig(WatcherConfig, { MAINTENANCE_CRON: '15 3 * * *' }).MAINTENANCE_CRON).toBe('15 3 * * *');
  });
  it('parses every period and the free-disk floor', () => {
    const c = loadConfig(WatcherConfig, { RAW_RETENTION: '30d', PROCESSED_RETENTION: '7d', MIN_FREE_DISK: '256MiB' });
    expect(c.retention.rawMs).toBe(30 * 86_400_000);
    expect(c.retention.processedMs).toBe(7 * 86_400_000);
    expect(c.retention.ledgerMs).toBeUndefined();
    expect(c.minFreeDiskBytes).toBe(256 * 1024 ** 2);
    expect(c.PARTITION_INTERVAL).toBe('month');
  });
});

describe('formatBytes', () => {
  it('prints sizes in binary units with at most one decimal, the inverse of the byte-size settings', () => {
    expect(formatBytes(512)).toBe('512 bytes');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(12 * 1024 ** 2)).toBe('12 MiB');
    expect(formatBytes(parseByteSize('1GiB'))).toBe('1 GiB');
  });
});
