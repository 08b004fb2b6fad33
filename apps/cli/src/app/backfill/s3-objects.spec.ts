import type { S3Source } from '@sluice/config';
import { CliError } from '../cli-error';
import { parseS3Url, sourceFor } from './s3-objects';

const source = (name: string, bucket: string, prefix = ''): S3Source => ({ name, region: 'us-east-1', bucket, prefix, pathStyle: true, afterLoad: 'keep' });

describe(parseS3Url.name, () => {
  it('splits s3://bucket/prefix, the prefix optional', () => {
    expect(parseS3Url('s3://seed-004/timeseries/2024/')).toEqual({ bucket: 'seed-004', prefix: 'timeseries/2024/' });
    expect(parseS3Url('s3://seed-004')).toEqual({ bucket: 'seed-004', prefix: '' });
    expect(parseS3Url('s3://seed-004/')).toEqual({ bucket: 'seed-004', prefix: '' });
  });

  it('is null for a folder path or another scheme', () => {
    expect(parseS3Url('/data/seed-004')).toBeNull();
    expect(parseS3Url('https://seed-004/x')).toBeNull();
    expect(parseS3Url('s3://')).toBeNull();
  });
});

describe(sourceFor.name, () => {
  const sources = [source('raw', 'landing', 'raw/'), source('seed', 'seed-004')];

  it('takes the source that reads the bucket, narrowed to the prefix asked for', () => {
    expect(sourceFor(sources, { bucket: 'seed-004', prefix: 'timeseries/2024/' })).toMatchObject({ name: 'seed', prefix: 'timeseries/2024/' });
    expect(sourceFor(sources, { bucket: 'landing', prefix: 'other/' })).toMatchObject({ name: 'raw', bucket: 'landing', prefix: 'other/' });
  });

  it('names the bucket no source reads', () => {
    expect(() => sourceFor(sources, { bucket: 'unknown', prefix: '' })).toThrow(CliError);
    expect(() => sourceFor(sources, { bucket: 'unknown', prefix: '' })).toThrow(/no source in S3_SOURCES \(or MINIO_\*\) reads bucket "unknown"/);
  });
});
