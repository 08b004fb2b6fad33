import { FILE_KINDS, type FileKind } from '@sluice/contracts';
import type { DataSource } from 'typeorm';
import type { KindLoader, LoadResult } from './kind-loader';
import { LoaderRegistry } from './loader-registry';
import { JsonDocumentLoader } from './json/json-document.loader';
import { NdjsonLoader } from './json/ndjson.loader';
import { LogLinesLoader } from './log/log-lines.loader';
import { SensorCsvLoader } from './sensor/sensor-csv.loader';

const done: LoadResult = { rowsTotal: 0, rowsLoaded: 0, rowsRejected: 0, rowsWritten: {}, rejection: null };
const fake = (kinds: FileKind[]): KindLoader => ({ kinds, load: () => Promise.resolve(done) });

describe(LoaderRegistry.name, () => {
  const sensors = fake(['sensor_wide_csv', 'sensor_long_csv', 'sensor_mapping_csv']);
  const documents = fake(['vehicle_status', 'detections', 'measurement']);
  const ndjson = fake(['ndjson']);
  const logs = fake(['log']);
  const sut = new LoaderRegistry([sensors, documents, ndjson, logs]);

  it('routes every kind to the loader that claims it', () => {
    expect(sut.for('sensor_long_csv')).toBe(sensors);
    expect(sut.for('measurement')).toBe(documents);
    expect(sut.for('ndjson')).toBe(ndjson);
    expect(sut.for('log')).toBe(logs);
  });

  it('has a loader for every kind of SPEC §4 with the real loaders', () => {
    const ds = {} as DataSource;
    const real = new LoaderRegistry([new SensorCsvLoader(ds), new JsonDocumentLoader(), new NdjsonLoader(ds), new LogLinesLoader()]);
    // A zip archive is not loaded: the processor expands it into member files, each of a loaded kind.
    for (const kind of FILE_KINDS.filter((k) => k !== 'zip_archive')) expect(real.for(kind)?.kinds).toContain(kind);
    expect(real.for('zip_archive')).toBeUndefined();
  });

  it('refuses two loaders for one kind', () => {
    expect(() => sut.register(fake(['ndjson']))).toThrow('two loaders claim the kind ndjson');
  });
});
