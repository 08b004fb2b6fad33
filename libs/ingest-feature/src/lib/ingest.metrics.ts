import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, register } from 'prom-client';

// Several apps in one process (tests) share the default registry: register once, reuse after.
function metric<T>(name: string, make: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? make();
}

@Injectable()
export class IngestMetrics {
  readonly accepted = metric('sluice_ingest_accepted_total', () => new Counter({ name: 'sluice_ingest_accepted_total', help: 'Payloads and uploads stored and answered 202', labelNames: ['endpoint', 'kind'] }));
  readonly bytes = metric('sluice_ingest_bytes_total', () => new Counter({ name: 'sluice_ingest_bytes_total', help: 'Bytes stored by the ingest API' }));
  readonly refused = metric('sluice_ingest_refused_total', () => new Counter({ name: 'sluice_ingest_refused_total', help: 'Requests refused, by error code', labelNames: ['code'] }));
  readonly batchSize = metric('sluice_ingest_batch_size', () => new Histogram({ name: 'sluice_ingest_batch_size', help: 'Payloads per group commit', buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000] }));
  readonly batchDuration = metric(
    'sluice_ingest_batch_seconds',
    () => new Histogram({ name: 'sluice_ingest_batch_seconds', help: 'Group commit time (fsync of processing/ when the batch holds files, ledger transaction, publishes)', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] }),
  );
  readonly bodyBytesHeld = metric('sluice_ingest_body_bytes_held', () => new Gauge({ name: 'sluice_ingest_body_bytes_held', help: 'Bytes of POST /ingest bodies reserved in memory now (at most INGEST_BODY_MEMORY_BYTES)' }));
}
