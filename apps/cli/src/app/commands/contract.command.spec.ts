import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { readContract, type Contract } from '@sluice/datasets';
import { contractsFolder } from '../contracts/contracts-folder';
import { runCli } from '../program';

const EXAMPLES = resolve(__dirname, '../../../../../examples/contracts');
const example = (name: string) => join(EXAMPLES, name);

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'sluice-contract-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let n = 0;
/** A new empty folder in the scratch folder. */
function freshDir(): string {
  const dir = join(scratch, `d${++n}`);
  mkdirSync(dir);
  return dir;
}

async function sluice(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const text = { out: '', err: '' };
  out.on('data', (c: Buffer) => (text.out += c.toString()));
  err.on('data', (c: Buffer) => (text.err += c.toString()));
  const code = await runCli(['node', 'sluice', ...args], { out, err }, env);
  return { code, ...text };
}

/** The contract a written file holds; fails the test with the problems when it is refused. */
function contractAt(file: string): Contract {
  const read = readContract(file, readFileSync(file));
  if ('problems' in read) throw new Error(`${file} is refused: ${read.problems.map((p) => p.message).join('; ')}`);
  return read.version.contract;
}

/** Control characters other than the line break: a terminal would act on them. */
const rawControls = (text: string) => [...text].filter((c) => c.charCodeAt(0) < 0x20 && c !== '\n');

const summary = (c: Contract) => c.columns.map((col) => `${col.source}:${col.name}:${col.type}`);

/** The example contracts in a folder of their own, to add files beside them. */
function examplesCopy(): string {
  const dir = freshDir();
  for (const f of readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml'))) copyFileSync(example(f), join(dir, f));
  return dir;
}

describe('examples/contracts', () => {
  it.each(readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')))('%s reads without problems', (file) => {
    const read = readContract(example(file), readFileSync(example(file)));
    expect('problems' in read ? read.problems : []).toEqual([]);
  });
});

describe('sluice contract init', () => {
  it('infers the weather contract: ; and decimal commas, local times in the zone given, station and time as the key', async () => {
    const dir = freshDir();
    const r = await sluice(['contract', 'init', example('weather_2024-03-31.csv'), '--name', 'weather', '--timezone', 'Europe/Berlin', '--contracts-dir', dir]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const contract = contractAt(join(dir, 'weather.yaml'));
    expect(contract.format).toEqual({ type: 'csv', delimiter: ';', quote: '"', header: true, decimalComma: true, encoding: 'utf-8', skipLines: 0 });
    expect(contract.timezone).toBe('Europe/Berlin');
    expect(summary(contract)).toEqual(['Station:station:text', 'Zeit:zeit:timestamptz', 'Temperatur:temperatur:float', 'Luftfeuchte:luftfeuchte:int', 'Wetter:wetter:text']);
    expect(contract.columns[1].formats).toEqual(['dd.MM.yyyy HH:mm']);
    expect(contract.table.key).toEqual(['station', 'zeit']);
    expect(contract.inputs.glob).toBe('weather_*.csv');
    expect(r.out).toContain(`wrote ${join(dir, 'weather.yaml')}, inferred from 30 rows`);
    expect(r.out).toContain('format   csv, delimiter ";", header, decimal comma, utf-8');
    expect(r.out).toContain('Zeit        → zeit (timestamptz, dd.MM.yyyy HH:mm, required)');
    expect(r.out).toContain('key      station, zeit');
    expect(r.out).toContain('glob     weather_*.csv');
    expect(r.out).toContain('rows     30 sampled');
    expect(r.out).toContain(`next: check ${join(dir, 'weather.yaml')} (types, required, key, glob), then sluice contract diff`);
  });

  it('infers the orders contract from NDJSON, nested members as dotted sources', async () => {
    const dir = freshDir();
    const r = await sluice(['contract', 'init', example('orders-000123.ndjson'), '--name', 'orders', '--contracts-dir', dir]);
    expect(r.code).toBe(0);
    const contract = contractAt(join(dir, 'orders.yaml'));
    expect(contract.format).toEqual({ type: 'ndjson' });
    expect(summary(contract)).toEqual([
      'order_id:order_id:text',
      'status:status:text',
      'amount:amount:float',
      'currency:currency:text',
      'updated_at:updated_at:timestamptz',
      'customer.id:customer_id:text',
      'customer.country:customer_country:text',
    ]);
    expect(contract.table.key).toEqual(['order_id', 'updated_at']);
    expect(contract.inputs.glob).toBe('orders-*.ndjson');
  });

  it('infers the meters contract from a JSON document, finding its records', async () => {
    const dir = freshDir();
    const r = await sluice(['contract', 'init', example('meter-export.json'), '--name', 'meters', '--contracts-dir', dir]);
    expect(r.code).toBe(0);
    const contract = contractAt(join(dir, 'meters.yaml'));
    expect(contract.format).toEqual({ type: 'json', recordsPath: 'data.readings' });
    expect(summary(contract)).toEqual(['meter:meter:text', 'read_at:read_at:timestamptz', 'kwh:kwh:float', 'quality:quality:text']);
    expect(contract.table.key).toEqual(['meter', 'read_at']);
    expect(contract.inputs.glob).toBe('meter-export.json');
    expect(r.out).toContain('records found at data.readings (records_path)');
  });

  it('writes a contract without a timezone as asked, and says what to add', async () => {
    const dir = freshDir();
    const r = await sluice(['contract', 'init', example('weather_2024-03-31.csv'), '--name', 'weather', '--contracts-dir', dir]);
    expect(r.code).toBe(0);
    const file = join(dir, 'weather.yaml');
    expect(existsSync(file)).toBe(true);
    expect(r.out).toContain(`${file} needs an edit before Sluice takes it:`);
    expect(r.out).toMatch(/weather\.yaml:\d+: naive timestamps in column zeit need a timezone/);
    expect(r.out).toContain(`next: edit ${file}: add \`timezone: <IANA zone>\``);
  });

  it('reads a CSV that is not UTF-8 as latin1 and says so', async () => {
    const dir = freshDir();
    const csv = join(dir, 'stations.csv');
    writeFileSync(csv, Buffer.from('id;Ort\n1;Köln\n2;Düsseldorf\n', 'latin1'));
    const r = await sluice(['contract', 'init', csv, '--name', 'stations', '--contracts-dir', dir]);
    expect(r.code).toBe(0);
    expect(contractAt(join(dir, 'stations.yaml')).format).toMatchObject({ type: 'csv', encoding: 'latin1' });
    expect(r.out).toContain('the bytes are not valid UTF-8: read as latin1');
  });

  it('refuses to replace a contract file unless --force is given', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'orders.yaml'), '# mine\n');
    const args = ['contract', 'init', example('orders-000123.ndjson'), '--name', 'orders', '--contracts-dir', dir];
    const refused = await sluice(args);
    expect(refused.code).toBe(1);
    expect(refused.err).toBe(`sluice: ${join(dir, 'orders.yaml')} exists; edit it, or add --force to replace it\n`);
    expect(readFileSync(join(dir, 'orders.yaml'), 'utf8')).toBe('# mine\n');
    expect((await sluice([...args, '--force'])).code).toBe(0);
    expect(contractAt(join(dir, 'orders.yaml')).format.type).toBe('ndjson');
  });

  it('refuses a name that cannot be a table, a missing file and a bad zone as usage errors', async () => {
    const dir = freshDir();
    const bad = await sluice(['contract', 'init', example('orders-000123.ndjson'), '--name', 'Orders', '--contracts-dir', dir]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('the contract name "Orders" is not a valid name');
    const reserved = await sluice(['contract', 'init', example('orders-000123.ndjson'), '--name', 'measurements', '--contracts-dir', dir]);
    expect(reserved.err).toContain("one of Sluice's own tables");
    const missing = await sluice(['contract', 'init', join(dir, 'nope.csv'), '--name', 'nope', '--contracts-dir', dir]);
    expect(missing).toMatchObject({ code: 2, err: `sluice: no file ${join(dir, 'nope.csv')}\n` });
    const folder = await sluice(['contract', 'init', dir, '--name', 'nope', '--contracts-dir', dir]);
    expect(folder.err).toContain('is not a regular file');
    const zone = await sluice(['contract', 'init', example('weather_2024-03-31.csv'), '--name', 'weather', '--timezone', '+02:00', '--contracts-dir', dir]);
    expect(zone.code).toBe(2);
    expect(zone.err).toContain('is not an IANA time zone');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('samples the first 1,000 records, names the columns of a CSV without a header, and prints its help', async () => {
    const dir = freshDir();
    const csv = join(dir, 'counts.csv');
    writeFileSync(csv, Array.from({ length: 2_500 }, (_, i) => `${i + 1},${(i * 7) % 13},2024-05-01`).join('\n') + '\n');
    const r = await sluice(['contract', 'init', csv, '--name', 'counts', '--contracts-dir', dir]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('rows     1,000 sampled');
    const contract = contractAt(join(dir, 'counts.yaml'));
    expect(contract.format).toMatchObject({ type: 'csv', header: false, columns: ['column_1', 'column_2', 'column_3'] });
    expect(summary(contract)).toEqual(['column_1:column_1:int', 'column_2:column_2:int', 'column_3:column_3:date']);
    expect(contract.table.key).toEqual(['column_1']);

    const help = await sluice(['contract', 'init', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('Usage: sluice contract init [options] <file>');
  });

  it('needs --records-path for a JSON document too large to read whole, and takes it only for JSON', async () => {
    const dir = freshDir();
    const big = join(dir, 'big.json');
    writeFileSync(big, '[');
    truncateSync(big, 17 * 1024 * 1024);
    const r = await sluice(['contract', 'init', big, '--name', 'big', '--contracts-dir', dir]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('is 17.0 MiB, larger than the 16.0 MiB read whole to find its records; give --records-path');
    const csv = await sluice(['contract', 'init', example('weather_2024-03-31.csv'), '--name', 'w', '--records-path', 'data', '--contracts-dir', dir]);
    expect(csv).toMatchObject({ code: 2, err: 'sluice: --records-path is for JSON documents (.json)\n' });
    const badPath = await sluice(['contract', 'init', big, '--name', 'big', '--records-path', 'data/../x', '--contracts-dir', dir]);
    expect(badPath.code).toBe(2);
    expect(badPath.err).toContain('is not a dotted path of member names');
    const given = await sluice(['contract', 'init', example('meter-export.json'), '--name', 'meters', '--records-path', 'data.readings', '--contracts-dir', dir]);
    expect(given.code).toBe(0);
    expect(contractAt(join(dir, 'meters.yaml')).format).toEqual({ type: 'json', recordsPath: 'data.readings' });
  });

  it('creates the contracts folder beside DROPZONE_DIR when none is given', async () => {
    const base = freshDir();
    const r = await sluice(['contract', 'init', example('meter-export.json'), '--name', 'meters'], { DROPZONE_DIR: join(base, 'dropzone') });
    expect(r.code).toBe(0);
    expect(existsSync(join(base, 'contracts', 'meters.yaml'))).toBe(true);
  });
});

describe('sluice contract diff', () => {
  it.each([['weather_2024-03-31.csv', 'weather'], ['orders-000123.ndjson', 'orders'], ['orders-000124.ndjson', 'orders'], ['meter-export.json', 'meters']])(
    '%s matches the example contract %s, found by its glob',
    async (file, contract) => {
      const r = await sluice(['contract', 'diff', example(file), '--contracts-dir', EXAMPLES]);
      expect(r).toMatchObject({ code: 0, err: '' });
      expect(r.out).toMatch(new RegExp(`^no differences: .*${file.replace('.', '\\.')} matches ${contract} \\(\\d+ columns\\)\\n$`));
    },
  );

  it('lists an added, a missing, a renamed column and a changed type, and exits 1', async () => {
    const dir = freshDir();
    const file = join(dir, 'weather_2024-04-01.csv');
    writeFileSync(file, ['Station;Zeit;Temp;Luftfeuchte;Wind', 'DWD-10385;01.04.2024 00:00;7,5;87 %;3,5', 'DWD-10385;01.04.2024 00:30;7,1;88 %;4,0', ''].join('\n'));
    const r = await sluice(['contract', 'diff', file, '--contracts-dir', EXAMPLES]);
    expect(r.code).toBe(1);
    expect(r.out.split('\n').filter(Boolean)).toEqual([
      '~ Temperatur → Temp: renamed',
      '! Luftfeuchte: expected int, found text ("87 %")',
      '- Wetter: missing',
      '+ Wind (float): new column',
    ]);
    expect(r.err).toMatch(/^sluice: .*weather_2024-04-01\.csv differs from the contract weather \(sha256 [0-9a-f]{12}, .*weather\.yaml\) in 4 columns\n$/);

    const json = await sluice(['contract', 'diff', file, '--contracts-dir', EXAMPLES, '--json']);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.out) as { file: string; contract: string; version: string; diff: { change: string }[] };
    expect(report).toMatchObject({ file, contract: 'weather', version: expect.stringMatching(/^[0-9a-f]{12}$/) });
    expect(report.diff.map((d) => d.change)).toEqual(['renamed', 'type_changed', 'removed', 'added']);
  });

  it('compares with the contract named by --contract whatever the file is called', async () => {
    const dir = freshDir();
    copyFileSync(example('meter-export.json'), join(dir, 'readings.json'));
    const r = await sluice(['contract', 'diff', join(dir, 'readings.json'), '--contract', 'meters', '--contracts-dir', EXAMPLES]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('matches meters (4 columns)');
    const unknown = await sluice(['contract', 'diff', join(dir, 'readings.json'), '--contract', 'nope', '--contracts-dir', EXAMPLES]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('no valid contract nope in');
  });

  it('exits 2 naming the globs when no contract takes the file, and the contracts when several do', async () => {
    const dir = freshDir();
    const file = join(dir, 'readings.json');
    copyFileSync(example('meter-export.json'), file);
    const none = await sluice(['contract', 'diff', file, '--contracts-dir', EXAMPLES]);
    expect(none.code).toBe(2);
    expect(none.err).toBe(`sluice: no contract in ${EXAMPLES} takes the name readings.json (meters: meter-export*.json; orders: orders-*.ndjson; weather: weather_*.csv); name one with --contract.\n`);

    const folder = examplesCopy();
    copyFileSync(example('weather.yaml'), join(folder, 'weather_copy.yaml'));
    const several = await sluice(['contract', 'diff', example('weather_2024-03-31.csv'), '--contracts-dir', folder]);
    expect(several.code).toBe(2);
    expect(several.err).toContain('several contracts in');
    expect(several.err).toContain('take the name weather_2024-03-31.csv: weather, weather_copy; choose one with --contract');

    const empty = await sluice(['contract', 'diff', file, '--contracts-dir', join(dir, 'nothing-here')]);
    expect(empty.code).toBe(2);
    expect(empty.err).toContain('no valid contract in');
  });

  it('prints the problems of broken contracts and goes on with the valid ones', async () => {
    const folder = examplesCopy();
    writeFileSync(join(folder, 'broken.yaml'), 'inputs:\n  glob: "x_*.csv"\nformat:\n  type: csv\n  delimeter: ";"\n');
    const r = await sluice(['contract', 'diff', example('orders-000123.ndjson'), '--contracts-dir', folder]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('matches orders');
    expect(r.err).toContain(`${join(folder, 'broken.yaml')}:5: format.delimeter is not a field`);

    const data = join(freshDir(), 'x_1.csv');
    writeFileSync(data, 'a;b\n1;2\n');
    const unmatched = await sluice(['contract', 'diff', data, '--contracts-dir', folder]);
    expect(unmatched.code).toBe(2);
    expect(unmatched.err).toContain('Contracts with the problems above are not in force until they are fixed.');
  });

  it('the contracts folder comes from --contracts-dir, CONTRACTS_DIR, beside DROPZONE_DIR, or ./contracts', () => {
    expect(contractsFolder('/a', { CONTRACTS_DIR: '/b', DROPZONE_DIR: '/c/drop' })).toBe('/a');
    expect(contractsFolder(undefined, { CONTRACTS_DIR: '/b', DROPZONE_DIR: '/c/drop' })).toBe('/b');
    expect(contractsFolder(undefined, { CONTRACTS_DIR: '', DROPZONE_DIR: '/c/drop/' })).toBe('/c/contracts');
    expect(contractsFolder(undefined, {})).toBe('contracts');
  });

  it('shows control characters of file names and headers escaped', async () => {
    const dir = freshDir();
    const file = join(dir, 'weather_\u001b]0;pwned\u0007.csv');
    const weather = readFileSync(example('weather_2024-03-31.csv'), 'utf8').split('\n');
    writeFileSync(file, [`${weather[0]};Wind\u001b[2J`, ...weather.slice(1).filter(Boolean).map((l) => `${l};x`), ''].join('\n'));
    const r = await sluice(['contract', 'diff', file, '--contracts-dir', EXAMPLES]);
    expect(r.code).toBe(1);
    expect(r.out).toBe('+ Wind\\x1b[2J (text): new column\n');
    expect(r.err).toContain('weather_\\x1b]0;pwned\\x07.csv differs from the contract weather');
    expect(rawControls(r.out + r.err)).toEqual([]);

    const init = await sluice(['contract', 'init', file, '--name', 'hostile', '--timezone', 'Europe/Berlin', '--contracts-dir', dir]);
    expect(init.code).toBe(0);
    expect(init.out).toContain('Wind\\x1b[2J');
    expect(rawControls(init.out)).toEqual([]);
  });
});
