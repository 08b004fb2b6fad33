export * from './lib/replay.exception';
export * from './lib/replay.service';
export * from './lib/replay.module';
