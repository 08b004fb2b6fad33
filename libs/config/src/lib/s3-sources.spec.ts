import { ProcessorConfig, WatcherConfig } from './app-configs';
import { ConfigError, loadConfig } from './load-config';
import { parseS3Sources } from './s3-sources';

function problem(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

describe(parseS3Sources.name, () => {
  it('reads a JSON array with defaults: whole bucket, keep, path-style when an endpoint is given', () => {
    const [s] = parseS3Sources('[{"endpoint":"http://127.0.0.1:9000","bucket":"sensor-data","accessKey":"a","secretKey":"b"}]');
    expect(s).toEqual({
      name: 'sensor-data',
      endpoint: 'http://127.0.0.1:9000',
      region: 'us-east-1',
      bucket: 'sensor-data',
      prefix: '',
      accessKeyId: 'a',
      secretAccessKey: 'b',
      pathStyle: true,
      afterLoad: 'keep',
      moveTo: undefined,
      quarantineTo: undefined,
    });
  });

  it('reads several sources and per-source actions', () => {
    const sources = parseS3Sources(
      JSON.stringify([
        { name: 'a', bucket: 'one', prefix: '/in/', afterLoad: 'move', moveTo: 'done/', quarantineTo: 'bad/' },
        { name: 'b', bucket: 'two', afterLoad: 'delete', pathStyle: false, region: 'eu-west-1' },
      ]),
    );
    expect(sources.map((s) => [s.name, s.prefix, s.afterLoad, s.moveTo, s.quarantineTo, s.pathStyle, s.region])).toEqual([
      ['a', 'in/', 'move', 'done/', 'bad/', false, 'us-east-1'],
      ['b', '', 'delete', undefined, undefined, false, 'eu-west-1'],
    ]);
  });

  it('turns the three MINIO_* variables into one source, the endpoint given as host:port', () => {
    const [s] = parseS3Sources(undefined, { MINIO_ENDPOINT: 'localhost:9000', MINIO_ACCESS_KEY: 'minio', MINIO_SECRET_KEY: 'secret' });
    expect(s).toMatchObject({ name: 'minio', endpoint: 'http://localhost:9000', bucket: 'sensors', accessKeyId: 'minio', secretAccessKey: 'secret', pathStyle: true });
    expect(parseS3Sources(undefined, { MINIO_ENDPOINT: 'https://s3.local', MINIO_ACCESS_KEY: 'k', MINIO_SECRET_KEY: 's', MINIO_BUCKET: 'data' })[0]).toMatchObject({ endpoint: 'https://s3.local', bucket: 'data' });
  });

  it('names the entry and the field at fault', () => {
    expect(problem(() => parseS3Sources('{'))).toMatch(/^S3_SOURCES is not valid JSON/);
    expect(problem(() => parseS3Sources('[{"bucket":"ok-bucket"},{"bucket":"No_Such"}]'))).toMatch(/^S3_SOURCES\[1\]: bucket must be/);
    expect(problem(() => parseS3Sources('[{"bucket":"abc","accessKey":"x"}]'))).toMatch(/S3_SOURCES\[0\]: accessKey and secretKey go together/);
    expect(problem(() => parseS3Sources('[{"bucket":"abc","afterLoad":"move"}]'))).toMatch(/moveTo .* required/);
    expect(problem(() => parseS3Sources('[{"bucket":"abc","afterLoad":"archive"}]'))).toMatch(/afterLoad must be keep, delete or move/);
    expect(problem(() => parseS3Sources('[{"bucket":"abc","endpoint":"ftp://x"}]'))).toMatch(/not an http\(s\) endpoint/);
    expect(problem(() => parseS3Sources('[{"bucket":"abc","bukket":"x"}]'))).toMatch(/unknown field\(s\) bukket/);
    expect(problem(() => parseS3Sources('[{"bucket":"abc"},{"bucket":"abc"}]'))).toMatch(/two sources are named "abc"/);
    expect(problem(() => parseS3Sources(undefined, { MINIO_ENDPOINT: 'localhost:9000' }))).toMatch(/MINIO_ENDPOINT, MINIO_ACCESS_KEY and MINIO_SECRET_KEY go together/);
  });
});

describe('S3_SOURCES at boot', () => {
  it('has no sources by default', () => {
    expect(loadConfig(WatcherConfig, {}).s3Sources).toEqual([]);
  });

  it('stops the service with an error naming the variable', () => {
    const error = (() => {
      try {
        loadConfig(ProcessorConfig, { S3_SOURCES: '[{"bucket":"x"}]' });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain('S3_SOURCES');
    expect((error as ConfigError).message).toContain('S3_SOURCES[0]: bucket must be');
  });

  it('reads the MINIO_* variables and the listing interval', () => {
    const c = loadConfig(WatcherConfig, { MINIO_ENDPOINT: '127.0.0.1:9000', MINIO_ACCESS_KEY: 'k', MINIO_SECRET_KEY: 's', S3_LIST_INTERVAL_MS: '5000' });
    expect(c.s3Sources.map((s) => s.name)).toEqual(['minio']);
    expect(c.S3_LIST_INTERVAL_MS).toBe(5000);
  });
});
