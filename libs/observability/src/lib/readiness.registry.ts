import { Injectable } from '@nestjs/common';

export type ReadinessCheck = () => Promise<void>;

/** Libraries that own a connection (database, NATS) register how to check it; /health/ready runs them all. */
@Injectable()
export class ReadinessRegistry {
  private readonly checks = new Map<string, ReadinessCheck>();

  register(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  entries(): [string, ReadinessCheck][] {
    return [...this.checks.entries()];
  }
}
