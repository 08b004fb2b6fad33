import { validate } from 'class-validator';
import { plainToInstance } from 'class-transformer';
import { FileBatchFinishedMessage, FileBatchQueuedMessage, FileLifecycleEvent, FileQueuedMessage } from './file-events';
import { messageIds, messages } from './messages';

const id = '1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b';
const other = '0b9d7c52-1f4e-4f0a-9d7e-6c3c1b2a4f10';
const updatedAt = new Date('2026-01-05T10:00:01.000Z');

describe('messageIds', () => {
  // JetStream de-duplicates by these strings: a changed id changes which publishes count as repeats.
  it('are the ids the pipeline has always published with', () => {
    expect(messageIds.queued(id)).toBe(id);
    expect(messageIds.requeue({ id, updatedAt })).toBe(`${id}.requeue.1767607201000`);
    expect(messageIds.requeue({ id, updatedAt: '2026-01-05T10:00:01.000Z' })).toBe(`${id}.requeue.1767607201000`);
    expect(messageIds.replay(id, 3)).toBe(`${id}.replay.3`);
    expect(messageIds.redrive({ id, updatedAt })).toBe(`${id}.redrive.1767607201000`);
    expect(messageIds.alone({ id, attempts: 2 })).toBe(`${id}.alone.2`);
    expect(messageIds.processing({ id, attempts: 1 })).toBe(`${id}.processing.1`);
    expect(messageIds.duplicate(id)).toBe(`${id}.duplicate`);
    expect(messageIds.outcome({ id, status: 'quarantined', replays: 0 })).toBe(`${id}.quarantined.0`);
    expect(messageIds.batchQueued(id)).toBe(`batch.${id}`);
    expect(messageIds.batchRequeue({ id, updatedAt }, 12)).toBe(`batch.requeue.${id}.1767607201000.12`);
    expect(messageIds.batchFinished(id, 12)).toBe(`${id}.batch.12`);
    expect(messageIds.again(42)).toBe('42.again');
  });

  it('tell a replay, a requeue and a re-drive of one file apart from its first publish and from each other', () => {
    const ids = [messageIds.queued(id), messageIds.replay(id, 1), messageIds.replay(id, 2), messageIds.requeue({ id, updatedAt }), messageIds.redrive({ id, updatedAt })];
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('messages', () => {
  /** A ledger row as the database returns it: bigints as text. */
  const row = {
    id,
    originalName: 'a.csv',
    storedPath: `processed/${id}__a.csv`,
    sizeBytes: '120',
    status: 'quarantined' as const,
    kind: 'sensor_wide_csv' as const,
    rowsLoaded: '0',
    rowsRejected: '7',
    duplicateOf: null,
    error: { rule: 'empty_file', message: 'the file is empty' },
  };

  it('make a valid payload for each subject from ledger rows', async () => {
    const payloads = [
      plainToInstance(FileQueuedMessage, messages.queued(row)),
      plainToInstance(FileBatchQueuedMessage, messages.batchQueued([row, { ...row, id: other, sizeBytes: 30 }])),
      plainToInstance(FileLifecycleEvent, messages.lifecycle(row)),
      plainToInstance(FileBatchFinishedMessage, messages.batchFinished([row], { durationMs: 5 })),
    ];
    for (const p of payloads) expect(await validate(p)).toEqual([]);
  });

  it('carry ids and counts, never contents', () => {
    expect(messages.queued(row)).toEqual({ fileId: id });
    expect(messages.batchQueued([row, { ...row, id: other, sizeBytes: 30 }])).toEqual({ fileIds: [id, other], bytes: 150 });
  });

  it('announce a stored row as it stands, counts as numbers', () => {
    expect(messages.lifecycle(row, { durationMs: 12 })).toEqual({
      fileId: id,
      status: 'quarantined',
      originalName: 'a.csv',
      kind: 'sensor_wide_csv',
      rowsLoaded: 0,
      rowsRejected: 7,
      durationMs: 12,
      error: { rule: 'empty_file', message: 'the file is empty' },
      at: expect.any(String),
    });
  });

  it('announce an entry just registered as a duplicate with what the ledger knows of it', () => {
    const entry = { id, originalName: 'b.csv', storedPath: `processing/${id}__b.csv`, sizeBytes: 12 };
    expect(messages.lifecycle({ ...entry, status: 'duplicate', duplicateOf: other })).toEqual({ fileId: id, status: 'duplicate', originalName: 'b.csv', duplicateOf: other, at: expect.any(String) });
  });
});
