import { FILE_KINDS, type FileKind } from '@sluice/contracts';
import type { ContractInput, ContractVersion } from '@sluice/datasets';
import type { DataSource } from 'typeorm';
import type { ContractKindLoader } from './contract/contract-kind.loader';
import type { ContractChoice, Contracts } from './contract/contracts.service';
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
    // A zip archive is not loaded: the processor expands it into member files, each of a loaded kind. A file of
    // kind contract is routed to its contract, not to a kind loader.
    for (const kind of FILE_KINDS.filter((k) => k !== 'zip_archive' && k !== 'contract')) expect(real.for(kind)?.kinds).toContain(kind);
    expect(real.for('zip_archive')).toBeUndefined();
    expect(real.for('contract')).toBeUndefined();
  });

  it('refuses two loaders for one kind', () => {
    expect(() => sut.register(fake(['ndjson']))).toThrow('two loaders claim the kind ndjson');
  });

  describe('data contracts', () => {
    const version = (name: string) => ({ contract: { name }, file: `/contracts/${name}.yaml`, hash: 'h' }) as unknown as ContractVersion;
    const contractLoader = {} as ContractKindLoader;
    const asked: ContractInput[] = [];
    const registry = (choice: ContractChoice) =>
      new LoaderRegistry([sensors, documents, ndjson, logs], { choose: (input: ContractInput) => (asked.push(input), choice) } as unknown as Contracts, contractLoader);
    const input: ContractInput = { source: 'dropzone', path: 'site-a/weather_2024-03-31.csv' };
    const semicolons = Buffer.from('Station;Zeit;Temperatur\nDWD-1;30.03.2024 20:00;11,5\n');
    const weather = version('weather');

    beforeEach(() => (asked.length = 0));

    it('routes a file detection refuses to the one contract that takes it', () => {
      expect(registry({ version: weather }).route(semicolons, 'weather_2024-03-31.csv', input)).toEqual({ kind: 'contract', contract: weather, loader: contractLoader });
      expect(asked).toEqual([input]);
    });

    it('keeps the refusal when no contract takes the file, or when the caller gives no input', () => {
      expect(registry({ none: true }).route(semicolons, 'weather_2024-03-31.csv', input)).toMatchObject({ kind: null, reason: { rule: 'unrecognized_format' } });
      expect(registry({ version: weather }).route(semicolons, 'weather_2024-03-31.csv')).toMatchObject({ kind: null, reason: { rule: 'unrecognized_format' } });
      expect(new LoaderRegistry([sensors]).route(semicolons, 'weather_2024-03-31.csv', input)).toMatchObject({ kind: null, reason: { rule: 'unrecognized_format' } });
    });

    it('quarantines a file several contracts take, naming them', () => {
      const route = registry({ ambiguous: [version('a_weather'), weather] }).route(semicolons, 'weather_2024-03-31.csv', input);
      expect(route).toMatchObject({ kind: null, reason: { rule: 'contract_ambiguous' } });
      expect('reason' in route && route.reason.message).toContain('a_weather (a_weather.yaml), weather (weather.yaml)');
    });

    it('lets built-in kinds win and asks no contract about an empty file', () => {
      const all = registry({ version: weather });
      expect(all.route(Buffer.from('ts,device,temp\n1700000000,d,1\n'), 'weather_x.csv', input)).toEqual({ kind: 'sensor_wide_csv', loader: sensors });
      expect(all.route(Buffer.alloc(0), 'weather_x.csv', input)).toMatchObject({ kind: null, reason: { rule: 'empty_file' } });
      expect(asked).toEqual([]);
    });

    it('routes an API body of NDJSON lines naming a contract kind to that contract, read as NDJSON of that kind', () => {
      const orders = { contract: { name: 'orders', format: { type: 'json', recordsPath: 'data' } }, file: '/contracts/orders.yaml', hash: 'h' } as unknown as ContractVersion;
      const api: ContractInput = { source: 'api', path: 'b.ndjson' };
      const body = Buffer.from('{"kind":"orders","order_id":"o-1"}\n{"kind":"orders","order_id":"o-2"}\n');
      const route = registry({ version: orders }).route(body, 'b.ndjson', api);
      expect(route).toEqual({ kind: 'contract', contract: { ...orders, contract: { name: 'orders', format: { type: 'ndjson', lineKind: 'orders' } } }, loader: contractLoader });
      expect(asked).toEqual([{ ...api, kind: 'orders' }]);
    });

    it('keeps NDJSON of built-in kinds, of a kind no contract takes, and from outside the API as NDJSON', () => {
      const all = registry({ none: true });
      expect(all.route(Buffer.from('{"kind":"invoices","id":1}\n'), 'b.ndjson', { source: 'api', path: 'b.ndjson' })).toEqual({ kind: 'ndjson', loader: ndjson });
      expect(asked).toEqual([{ source: 'api', path: 'b.ndjson', kind: 'invoices' }]);
      asked.length = 0;
      const some = registry({ version: weather });
      expect(some.route(Buffer.from('{"kind":"measurement","time_stamp":"2019-05-01T06:00:00Z","data":[1]}\n'), 'b.ndjson', { source: 'api', path: 'b.ndjson' })).toEqual({ kind: 'ndjson', loader: ndjson });
      expect(some.route(Buffer.from('{"kind":"orders","id":1}\n'), 'o.ndjson', input)).toEqual({ kind: 'ndjson', loader: ndjson });
      expect(asked).toEqual([]);
    });

    it('quarantines a body whose kind several contracts take', () => {
      const route = registry({ ambiguous: [version('orders'), version('shop_orders')] }).route(Buffer.from('{"kind":"orders"}\n'), 'b.ndjson', { source: 'api', path: 'b.ndjson' });
      expect(route).toMatchObject({ kind: null, reason: { rule: 'contract_ambiguous' } });
      expect('reason' in route && route.reason.message).toContain('inputs.kind "orders"');
    });
  });
});
