import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContractCatalog } from './contract-catalog';
import { MAX_CONTRACT_BYTES } from './read-contract';

/** A valid contract whose one column is `column` (so versions differ in size as well as content). */
const contract = (column: string) => `inputs: { glob: "*.csv" }
format: { type: csv }
columns:
  - { source: ${column}, name: ${column}, type: text, required: true }
table:
  key: [${column}]
`;
const BROKEN = 'inputs: { glob: "*.csv" }\nformat: { type: csv }\ncolumns: []\ntable: { key: [id] }\n';

describe('ContractCatalog', () => {
  let folder: string;
  let catalog: ContractCatalog;
  const write = (name: string, text: string) => writeFileSync(join(folder, name), text);
  const names = (versions: { contract: { name: string } }[]) => versions.map((v) => v.contract.name);

  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'contracts-'));
    catalog = new ContractCatalog(folder);
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  it('is empty for a folder that does not exist', () => {
    const missing = new ContractCatalog(join(folder, 'nowhere'));
    expect(missing.refresh()).toEqual({ added: [], updated: [], removed: [], refused: [] });
    expect(missing.all()).toEqual([]);
    expect(missing.problems()).toEqual([]);
  });

  it('reads every *.yaml and *.yml of the folder, and nothing else', () => {
    write('weather.yaml', contract('station'));
    write('orders.yml', contract('order_id'));
    write('.hidden.yaml', contract('x'));
    write('notes.txt', 'not a contract');
    mkdirSync(join(folder, 'sub'));
    writeFileSync(join(folder, 'sub', 'nested.yaml'), contract('y'));
    mkdirSync(join(folder, 'folder.yaml'));

    const changes = catalog.refresh();
    expect(names(changes.added)).toEqual(['orders', 'weather']);
    expect(names(catalog.all())).toEqual(['orders', 'weather']);
    expect(catalog.get('weather')?.contract.columns[0].name).toBe('station');
    expect(catalog.get('weather')?.file).toBe(join(folder, 'weather.yaml'));
    expect(catalog.get('hidden')).toBeUndefined();
    expect(catalog.problems()).toEqual([]);
  });

  it('reports no change when nothing changed, keeping the same versions', () => {
    write('weather.yaml', contract('station'));
    catalog.refresh();
    const before = catalog.get('weather');
    expect(catalog.refresh()).toEqual({ added: [], updated: [], removed: [], refused: [] });
    expect(catalog.get('weather')).toBe(before);
  });

  it('keeps the last valid version in force when an edit breaks the file, and says so', () => {
    write('weather.yaml', contract('station'));
    catalog.refresh();
    const valid = catalog.get('weather');

    write('weather.yaml', BROKEN);
    const changes = catalog.refresh();
    expect(changes).toEqual({ added: [], updated: [], removed: [], refused: [join(folder, 'weather.yaml')] });
    expect(catalog.get('weather')).toBe(valid);
    expect(catalog.problems()).toEqual([
      { file: join(folder, 'weather.yaml'), line: 3, field: 'columns', message: 'columns is an empty list; describe at least one column' },
      {
        file: join(folder, 'weather.yaml'),
        message: expect.stringMatching(/^the contract weather stays at its last valid version \(sha256 [0-9a-f]{12}, read from .*weather\.yaml\) until the file is fixed$/),
      },
    ]);

    // Unchanged since: not refused again, still listed.
    expect(catalog.refresh().refused).toEqual([]);
    expect(catalog.problems()).toHaveLength(2);

    write('weather.yaml', contract('station_id'));
    const fixed = catalog.refresh();
    expect(names(fixed.updated)).toEqual(['weather']);
    expect(catalog.get('weather')?.contract.columns[0].name).toBe('station_id');
    expect(catalog.problems()).toEqual([]);
  });

  it('leaves out a contract that was never valid, listing its problems', () => {
    write('weather.yaml', BROKEN);
    write('Bad-Name.yaml', contract('id'));
    const changes = catalog.refresh();
    expect(changes.added).toEqual([]);
    expect(changes.refused.sort()).toEqual([join(folder, 'Bad-Name.yaml'), join(folder, 'weather.yaml')]);
    expect(catalog.all()).toEqual([]);
    expect(catalog.problems().map((p) => [p.file, p.field])).toEqual([
      [join(folder, 'Bad-Name.yaml'), undefined],
      [join(folder, 'weather.yaml'), 'columns'],
    ]);
  });

  it('removes a contract whose file is deleted', () => {
    write('weather.yaml', contract('station'));
    catalog.refresh();
    unlinkSync(join(folder, 'weather.yaml'));
    const changes = catalog.refresh();
    expect(names(changes.removed)).toEqual(['weather']);
    expect(catalog.get('weather')).toBeUndefined();
  });

  it('refuses two files that define the same contract, naming both', () => {
    write('weather.yaml', contract('station'));
    write('weather.yml', contract('station'));
    expect(catalog.refresh().refused).toEqual([join(folder, 'weather.yaml'), join(folder, 'weather.yml')]);
    expect(catalog.get('weather')).toBeUndefined();
    expect(catalog.problems()).toEqual([
      { file: join(folder, 'weather.yaml'), message: expect.stringContaining('weather.yml also defines the contract weather') },
      { file: join(folder, 'weather.yml'), message: expect.stringContaining('weather.yaml also defines the contract weather') },
    ]);
  });

  it('refuses a file over the size limit without reading it', () => {
    write('huge.yaml', `# ${'x'.repeat(MAX_CONTRACT_BYTES)}\n`);
    const changes = catalog.refresh();
    expect(changes.refused).toEqual([join(folder, 'huge.yaml')]);
    expect(catalog.problems()).toEqual([{ file: join(folder, 'huge.yaml'), message: 'the file is 257 KiB, larger than the 256 KiB a contract may be' }]);
  });
});
