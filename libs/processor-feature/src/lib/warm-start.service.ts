import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { ProcessorConfig } from '@sluice/config';
import { LoaderRegistry, loadPolicyOptions } from '@sluice/loading';

/**
 * Passes of the warm-up: V8 optimises a function once it has run enough, and after one pass csv-parse's parser
 * was not there yet (a first small file parsed in ~12 ms against ~3.5 warm); after two or three it was.
 */
export const WARM_UP_PASSES = 3;

/**
 * Before the processor takes its first message, the loaders run their per-line code over generated files in
 * memory (`KindLoader.warmUp`, WARM_UP_PASSES times): the first file after a start no longer runs the parser,
 * the checks and the COPY encoding in V8's interpreter. Nothing reaches the database. A warm-up that fails is
 * logged and the processor starts all the same. Its garbage is collected before the first message too
 * (`collectStartupGarbage`, in bootstrapService).
 */
@Injectable()
export class WarmStart implements OnApplicationBootstrap {
  private readonly logger = new Logger(WarmStart.name);
  /** Lines the warm-up went through; 0 until it has run. */
  lines = 0;

  constructor(
    private readonly config: ProcessorConfig,
    private readonly loaders: LoaderRegistry,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const started = performance.now();
    try {
      const opts = loadPolicyOptions(this.config);
      for (let pass = 0; pass < WARM_UP_PASSES; pass++) this.lines += await this.loaders.warmUp(opts);
      this.logger.log({ lines: this.lines, ms: Math.round(performance.now() - started) }, 'loaders warmed up');
    } catch (e) {
      this.logger.warn(`the loaders' warm-up failed (the first files may load slower): ${(e as Error).message}`);
    }
  }
}
