import { renderSourceStatuses, type SourceStatus } from './s3-sources.status';

describe(renderSourceStatuses.name, () => {
  it('prints nothing without object-store sources', () => {
    expect(renderSourceStatuses([])).toEqual([]);
  });

  it('shows each source with its bucket, objects claimed, passes and where the current pass stands', () => {
    const sources: SourceStatus[] = [
      { source: 'seed', bucket: 'seed-004', passes: 3, position: null, objectsClaimed: 21, listedAt: '2026-01-01T00:00:00Z' },
      { source: 'archive', bucket: 'archive', passes: 0, position: 'timeseries/part-0007.csv', objectsClaimed: 1234, listedAt: '2026-01-01T00:00:05Z' },
    ];
    const text = renderSourceStatuses(sources).join('\n');
    expect(text).toContain('Object-store sources');
    const seedLine = text.split('\n').find((l) => l.includes('seed-004'));
    expect(seedLine).toMatch(/seed\s.*seed-004.*21.*3.*\(between passes\)/);
    expect(text.split('\n').find((l) => l.includes('part-0007'))).toMatch(/archive.*archive.*1,234.*0.*timeseries\/part-0007\.csv/);
  });
});
