import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { ProcessorConfig } from '@sluice/config';
import { decompressed } from '@sluice/formats';
import { LoaderRegistry, loadPolicyOptions, PartitionCoverage, wideWarmUpFile } from '@sluice/loading';
import { collectStartupGarbage } from '@sluice/observability';

/**
 * Passes of the warm-up: V8 optimises a function once it has run enough, and after one pass csv-parse's parser
 * was not there yet (a first small file parsed in ~12 ms against ~3.5 warm); after two or three it was.
 */
export const WARM_UP_PASSES = 3;

const WARM_UP_NAME = 'warm-up.csv';
const ROUTED_LINES = 10;

/**
 * Before the processor takes its first message, it runs the code a file's load runs first over generated files
 * in memory, WARM_UP_PASSES times: decompression's sniffing and the route (detection, data contracts), then
 * each loader's per-line code (`KindLoader.warmUp`: the parser, the checks, the COPY encoding). The first file
 * after a start no longer runs them in V8's interpreter. Nothing is written. Then the partitions of the current
 * interval are checked, as the first load of live data would (made only if missing). The start-up's garbage is
 * collected first (`collectStartupGarbage`). A warm-up that fails is logged and the processor starts all the same.
 */
@Injectable()
export class WarmStart implements OnApplicationBootstrap {
  private readonly logger = new Logger(WarmStart.name);
  /** Lines the loaders' warm-up went through; 0 until it has run. */
  lines = 0;

  constructor(
    private readonly config: ProcessorConfig,
    private readonly loaders: LoaderRegistry,
    private readonly partitions: PartitionCoverage,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const started = performance.now();
    try {
      collectStartupGarbage();
      const opts = loadPolicyOptions(this.config);
      for (let pass = 0; pass < WARM_UP_PASSES; pass++) {
        // The route reads the head only: a few lines are all it would see of a longer file.
        const file = decompressed(wideWarmUpFile(Date.now(), ROUTED_LINES), this.config.decompressionLimits, { name: WARM_UP_NAME });
        const route = await this.loaders.routeStream(file, WARM_UP_NAME, this.config.MAX_LINE_BYTES, { source: 'dropzone', path: WARM_UP_NAME });
        if (route.kind !== 'sensor_wide_csv') throw new Error(`the warm-up file was routed as ${route.kind ?? 'nothing'}`);
        this.lines += await this.loaders.warmUp(opts);
      }
      const now = Date.now() * 1000;
      await this.partitions.beforeCopy('raw_sensor_data', now, now);
      this.logger.log({ lines: this.lines, ms: Math.round(performance.now() - started) }, 'warmed up');
    } catch (e) {
      this.logger.warn(`the warm-up failed (the first files may load slower): ${(e as Error).message}`);
    }
  }
}
