export * from './lib/replay.exception';
export * from './lib/replay.service';
