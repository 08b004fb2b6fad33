import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';

const EVERY_MS = 60 * 60 * 1000;

/** Housekeeping that runs at start and then hourly (the timer never keeps the process alive) until shutdown. */
export abstract class HourlySweep implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  /** One sweep; logs its own failures. Returns how many things it removed. */
  abstract sweep(): Promise<number>;

  onApplicationBootstrap(): void {
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), EVERY_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
