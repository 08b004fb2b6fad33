import { Global, Injectable, Logger, Module, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { CommonConfig, contractsDir } from '@sluice/config';
import { ContractCatalog, contractsTaking, type CatalogChanges, type ContractInput, type ContractProblem, type ContractVersion } from '@sluice/datasets';
import { PeriodicJobs, ReadinessRegistry } from '@sluice/observability';
import { basename } from 'node:path';
import { Gauge, register } from 'prom-client';

/** How often the contracts folder is read again (a listing and a stat a file when nothing changed). */
export const CONTRACTS_REFRESH_MS = 2000;

/** Which contract an input goes to: one, none, or several (an ambiguity a person must resolve). */
export type ContractChoice = { version: ContractVersion } | { none: true } | { ambiguous: ContractVersion[] };

/** Which contract takes an input: `Contracts` in a service, a catalog read once in the CLI. */
export interface ContractChooser {
  choose(input: ContractInput): ContractChoice;
}

function gauge(): Gauge<'state'> {
  const name = 'sluice_contracts';
  return (register.getSingleMetric(name) as Gauge<'state'> | undefined) ?? new Gauge({ name, help: 'Data contracts in force, and contract files refused (as last read)', labelNames: ['state'] as const });
}

/** The file of a contract version by its name alone, for messages people read through the APIs (no server path). */
export function contractFileName(version: ContractVersion): string {
  return basename(version.file);
}

/** A contract problem as one line: `file:line field: message`. */
export function formatContractProblem(p: ContractProblem): string {
  return `${p.file}${p.line ? `:${p.line}` : ''}${p.field ? ` ${p.field}` : ''}: ${p.message}`;
}

/**
 * The data contracts in force in this service: CONTRACTS_DIR read at start and again every CONTRACTS_REFRESH_MS
 * (and whenever a caller asks, so an edit takes effect on the next file). A broken edit keeps the previous version
 * in force, is logged once with its problems, and makes the readiness check `contracts` degraded (never down:
 * the built-in kinds and the other contracts load as before) until it is fixed.
 */
@Injectable()
export class Contracts implements ContractChooser, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(Contracts.name);
  private readonly catalog: ContractCatalog;
  private readonly gauge = gauge();
  private readonly job = 'contracts.refresh';

  constructor(
    config: CommonConfig,
    private readonly readiness: ReadinessRegistry,
    private readonly jobs: PeriodicJobs,
  ) {
    this.catalog = new ContractCatalog(contractsDir(config));
  }

  /** The folder read. */
  get folder(): string {
    return this.catalog.folder;
  }

  onApplicationBootstrap(): void {
    this.refresh();
    const inForce = this.catalog.all();
    this.logger.log(`${inForce.length} data contract(s) in force from ${this.folder}${inForce.length ? `: ${inForce.map((v) => v.contract.name).join(', ')}` : ''}`);
    this.readiness.register(
      'contracts',
      async () => {
        const problems = this.catalog.problems();
        if (problems.length) throw new Error(`${problems.length} problem(s) in ${this.folder}: ${problems.slice(0, 5).map(formatContractProblem).join('; ')}`);
      },
      { required: false },
    );
    this.jobs.every(this.job, CONTRACTS_REFRESH_MS, async () => this.refresh());
  }

  onModuleDestroy(): void {
    this.jobs.stop(this.job);
  }

  /** Reads the folder again (cheap when nothing changed) and logs what changed. */
  refresh(): CatalogChanges {
    const changes = this.catalog.refresh();
    for (const v of changes.added) this.logger.log(`contract ${v.contract.name} in force (version ${short(v)}, ${v.file})`);
    for (const v of changes.updated) this.logger.log(`contract ${v.contract.name} changed: version ${short(v)} in force from the next file on`);
    for (const v of changes.removed) this.logger.warn(`contract ${v.contract.name} removed (${v.file} is gone): its files are no longer taken`);
    if (changes.refused.length) {
      const refused = new Set(changes.refused);
      for (const p of this.catalog.problems().filter((p) => refused.has(p.file))) this.logger.warn(`contract refused: ${formatContractProblem(p)}`);
    }
    this.gauge.set({ state: 'in_force' }, this.catalog.all().length);
    this.gauge.set({ state: 'refused' }, new Set(this.catalog.problems().map((p) => p.file)).size);
    return changes;
  }

  /** Every contract in force, by name. */
  all(): ContractVersion[] {
    return this.catalog.all();
  }

  get(name: string): ContractVersion | undefined {
    return this.catalog.get(name);
  }

  problems(): ContractProblem[] {
    return this.catalog.problems();
  }

  /** The contract that takes an input, read from the folder as it is now. */
  choose(input: ContractInput): ContractChoice {
    this.refresh();
    const taking = contractsTaking(this.catalog.all(), input);
    if (taking.length === 0) return { none: true };
    if (taking.length > 1) return { ambiguous: taking };
    return { version: taking[0] };
  }
}

const short = (v: ContractVersion) => v.hash.slice(0, 12);

/** `Contracts` for the whole app; needs ConfigModule and ObservabilityModule. */
@Global()
@Module({ providers: [Contracts], exports: [Contracts] })
export class ContractsModule {}

