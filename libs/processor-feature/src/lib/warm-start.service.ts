import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { ProcessorConfig } from '@sluice/config';
import { LoaderRegistry, loadPolicyOptions } from '@sluice/loading';

/**
 * Before the processor takes its first message, the loaders run their per-line code over generated files in
 * memory (`KindLoader.warmUp`): the first file after a start no longer runs the parser, the checks and the COPY
 * encoding in V8's interpreter. Nothing reaches the database. A warm-up that fails is logged and the
 * processor starts all the same.
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
      this.lines = await this.loaders.warmUp(loadPolicyOptions(this.config));
      this.logger.log({ lines: this.lines, ms: Math.round(performance.now() - started) }, 'loaders warmed up');
    } catch (e) {
      this.logger.warn(`the loaders' warm-up failed (the first files may load slower): ${(e as Error).message}`);
    }
  }
}
