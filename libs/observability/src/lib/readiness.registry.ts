import { Injectable } from '@nestjs/common';

export type ReadinessCheck = () => Promise<void>;

export interface ReadinessEntry {
  check: ReadinessCheck;
  /** False: the service does its work without this dependency, so a failure is reported (degraded) but leaves it ready. */
  required: boolean;
}

/** Libraries that own a connection (database, NATS) register how to check it; /health/ready runs them all. */
@Injectable()
export class ReadinessRegistry {
  private readonly checks = new Map<string, ReadinessEntry>();

  register(name: string, check: ReadinessCheck, { required = true }: { required?: boolean } = {}): void {
    this.checks.set(name, { check, required });
  }

  entries(): [string, ReadinessEntry][] {
    return [...this.checks.entries()];
  }
}
