import { dropControl, HOSTILE_STACK_ENV, leftoverTempFiles, loadHostileCorpus, openDropFiles, runHostileCorpus, Stack, waitFor, type HostileCase } from '@sluice/testing';

const cases = loadHostileCorpus();

describe('the hostile-input corpus (fixtures/hostile)', () => {
  let stack: Stack;
  let outcomes: Map<string, string[]>;

  beforeAll(async () => {
    stack = await Stack.start({
      label: 'hostile',
      services: ['watcher', 'processor', 'ingest-api', 'query-api'],
      env: HOSTILE_STACK_ENV,
    });
    outcomes = await runHostileCorpus(stack, cases, 'ci');
  });
  afterAll(async () => {
    // What each known defect does today, for whoever lands its fix.
    for (const c of cases.filter((x) => x.knownDefect && outcomes?.get(x.id)?.length)) {
      process.stdout.write(`known defect (${c.knownDefect}) ${c.channel} ${c.id}: ${outcomes.get(c.id)?.join('; ')}\n`);
    }
    await stack?.stop();
  });

  it('holds at least 80 cases across the drop folder, uploads and query parameters', () => {
    expect(cases.length).toBeGreaterThanOrEqual(80);
    expect(new Set(cases.map((c) => c.channel))).toEqual(new Set(['drop', 'upload', 'ingest', 'query']));
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
  });

  const name = (c: HostileCase) => `${c.channel} ${c.id}${c.knownDefect ? ` — known defect (${c.knownDefect}), expected to fail until fixed` : ''}`;
  for (const c of cases) {
    // A known defect fails its case today; `it.failing` turns red once the fix lands, so the mark is removed with it.
    (c.knownDefect ? it.failing : it)(name(c), () => {
      expect(outcomes.get(c.id)).toEqual([]);
    });
  }

  describe('after the corpus', () => {
    it('a control file still loads exactly', async () => {
      await expect(dropControl(stack, 'hostile-control-after', 500)).resolves.toBeUndefined();
    });

    it('every service is healthy', async () => {
      for (const p of stack.processes()) {
        expect(p.alive).toBe(true);
        const res = await fetch(`${stack.url(p.name, p.index)}/health/ready`);
        expect(res.status).toBe(200);
      }
    });

    it('no temp file is left in processing/', async () => {
      await waitFor('files moved out of processing/', async () => (await stack.query(`SELECT 1 FROM ingest_files WHERE stored_path LIKE 'processing/%'`)).length === 0, 60000, 200);
      expect(leftoverTempFiles(stack)).toEqual([]);
    });

    it('no service holds a drop-folder file open', () => {
      expect(openDropFiles(stack)).toEqual([]);
    });
  });
});
