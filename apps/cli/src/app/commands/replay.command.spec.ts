import { skipReason } from './replay.command';

describe('sluice replay: why a file was skipped', () => {
  it('says when retention removed the bytes of an expired file', () => {
    const id = '3f2a6c1e-0c4e-4b8e-9a57-1d2c3b4a5f60';
    expect(skipReason({ id, code: 'file_expired', message: 'm', details: { id, expiredAt: '2026-03-01T02:00:00.000Z' } })).toBe(
      'file_expired: its bytes were removed by retention on 2026-03-01 02:00:00 UTC; there is nothing left to replay',
    );
  });

  it('shows the code and the message of any other refusal, and of an expired file without its date', () => {
    const id = '3f2a6c1e-0c4e-4b8e-9a57-1d2c3b4a5f60';
    expect(skipReason({ id, code: 'content_live', message: 'the same content is already loaded' })).toBe('content_live: the same content is already loaded');
    expect(skipReason({ id, code: 'file_expired', message: 'removed', details: {} })).toBe('file_expired: removed');
  });
});
