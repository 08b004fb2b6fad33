import { validate } from 'class-validator';
import { plainToInstance } from 'class-transformer';
import { FileLifecycleEvent, FileQueuedMessage } from './file-events';
import { isTerminal } from './file-status';
import { FileSubjects, fullSubject, OUTCOME_SUBJECTS, streamName } from './subjects';

describe('subjects', () => {
  it('are versioned and prefixed by the namespace', () => {
    expect(fullSubject('sluice', FileSubjects.queued)).toBe('sluice.files.queued.v1');
    for (const s of Object.values(FileSubjects)) expect(s).toMatch(/^files\.[a-z]+\.v\d+$/);
  });

  it('name one stream per namespace', () => {
    expect(streamName('sluice')).toBe('SLUICE_FILES');
    expect(streamName('team-a')).toBe('TEAM-A_FILES');
  });

  it('list every terminal state as an outcome', () => {
    expect([...OUTCOME_SUBJECTS].sort()).toEqual([FileSubjects.duplicate, FileSubjects.failed, FileSubjects.processed, FileSubjects.quarantined].sort());
    expect(isTerminal('processed')).toBe(true);
    expect(isTerminal('processing')).toBe(false);
  });
});

describe('message classes', () => {
  it('accept a queued message with a uuid and refuse anything else', async () => {
    expect(await validate(plainToInstance(FileQueuedMessage, { fileId: '1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b' }))).toEqual([]);
    const problems = await validate(plainToInstance(FileQueuedMessage, { fileId: '../etc/passwd' }));
    expect(problems.map((p) => p.property)).toEqual(['fileId']);
  });

  it('validate a lifecycle event including its nested error', async () => {
    const ok = plainToInstance(FileLifecycleEvent, {
      fileId: '1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b',
      status: 'quarantined',
      originalName: 'a.csv',
      error: { rule: 'empty_file', message: 'the file is empty' },
      at: new Date().toISOString(),
    });
    expect(await validate(ok)).toEqual([]);
    const bad = plainToInstance(FileLifecycleEvent, { ...ok, status: 'lost', error: { rule: 5 } });
    expect((await validate(bad)).map((p) => p.property).sort()).toEqual(['error', 'status']);
  });
});
