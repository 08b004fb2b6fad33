import { DataSource, type DataSourceOptions } from 'typeorm';
import { AggregatedMetric } from './entities/aggregated-metric.entity';
import { DetectionEvent } from './entities/detection-event.entity';
import { IngestError } from './entities/ingest-error.entity';
import { IngestFile } from './entities/ingest-file.entity';
import { IngestPayload } from './entities/ingest-payload.entity';
import { LogLine } from './entities/log-line.entity';
import { Measurement } from './entities/measurement.entity';
import { RawSensorData } from './entities/raw-sensor-data.entity';
import { S3Object } from './entities/s3-object.entity';
import { S3SourceCheckpoint } from './entities/s3-source-checkpoint.entity';
import { Sensor } from './entities/sensor.entity';
import { VehicleStatus } from './entities/vehicle-status.entity';
import { InitialSchema1764000000000 } from './migrations/1764000000000-initial-schema';
import { FileOrder1764100000000 } from './migrations/1764100000000-file-order';
import { IngestApi1764200000000 } from './migrations/1764200000000-ingest-api';
import { CoveringReadingsKey1764300000000 } from './migrations/1764300000000-covering-readings-key';
import { IngestPayloads1764400000000 } from './migrations/1764400000000-ingest-payloads';
import { QueuedAt1764560000000 } from './migrations/1764560000000-queued-at';
import { S3Sources1764600000000 } from './migrations/1764600000000-s3-sources';
import { LogLines1764700000000 } from './migrations/1764700000000-log-lines';
import { CompressedFiles1764800000000 } from './migrations/1764800000000-compressed-files';
import { IdempotencyRequestDigest1764910000000 } from './migrations/1764910000000-idempotency-request-digest';
import { RowsWritten1765000000000 } from './migrations/1765000000000-rows-written';
import { PartitionedTables1765100000000 } from './migrations/1765100000000-partitioned-tables';
import { ExpiredFiles1765200000000 } from './migrations/1765200000000-expired-files';
import { MaintenanceRuns1765300000000 } from './migrations/1765300000000-maintenance-runs';
import { ContractVersions1765400000000 } from './migrations/1765400000000-contract-versions';
import { PayloadCompression1765500000000 } from './migrations/1765500000000-payload-compression';
import { pgDriver } from './pg-driver';

// Classes, not globs: globs do not survive bundling.
export const ENTITIES = [IngestFile, IngestPayload, IngestError, Sensor, RawSensorData, AggregatedMetric, Measurement, VehicleStatus, DetectionEvent, S3Object, S3SourceCheckpoint, LogLine];
export const MIGRATIONS = [
  InitialSchema1764000000000,
  FileOrder1764100000000,
  IngestApi1764200000000,
  CoveringReadingsKey1764300000000,
  IngestPayloads1764400000000,
  QueuedAt1764560000000,
  S3Sources1764600000000,
  LogLines1764700000000,
  CompressedFiles1764800000000,
  IdempotencyRequestDigest1764910000000,
  RowsWritten1765000000000,
  PartitionedTables1765100000000,
  ExpiredFiles1765200000000,
  MaintenanceRuns1765300000000,
  ContractVersions1765400000000,
  PayloadCompression1765500000000,
];

/**
 * Connections a pool keeps open however long they stay idle. A new connection costs a fork on the server and
 * a backend whose catalog caches are empty: the first load or page on it took ~85 ms longer, measured on a
 * file that came after a 10 s pause, once the pool had closed every idle connection. The rest of the pool
 * still closes after 10 s idle.
 */
export const WARM_CONNECTIONS = 2;

export function dataSourceOptions(url: string, extra: { poolSize?: number; applicationName?: string } = {}): DataSourceOptions {
  const poolSize = extra.poolSize ?? 10;
  return {
    type: 'postgres',
    driver: pgDriver,
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'sluice_migrations',
    synchronize: false,
    migrationsRun: false,
    poolSize,
    // allowExitOnIdle: kept connections do not hold a command (the CLI, a script) open once its work is done.
    extra: { min: Math.min(WARM_CONNECTIONS, poolSize), allowExitOnIdle: true },
    applicationName: extra.applicationName ?? 'sluice',
  };
}

export function createDataSource(url: string, extra?: { poolSize?: number; applicationName?: string }): DataSource {
  return new DataSource(dataSourceOptions(url, extra));
}
