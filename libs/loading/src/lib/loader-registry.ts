import { Inject, Injectable, Optional } from '@nestjs/common';
import type { FileKind, RejectReason } from '@sluice/contracts';
import type { ContractInput, ContractVersion } from '@sluice/datasets';
import { detectionHead, detectKind, LINE_KINDS, readDetectionHead } from '@sluice/formats';
import { ContractKindLoader } from './contract/contract-kind.loader';
import { contractFileName, Contracts, type ContractChooser } from './contract/contracts.service';
import { LOADERS, type KindLoader, type LoadOptions } from './kind-loader';

/** A file of a built-in kind and its loader. */
export interface KindRoute {
  kind: FileKind;
  loader: KindLoader;
}

/** A file no built-in kind takes, taken by the one data contract in force that matches where it came from. */
export interface ContractRoute {
  kind: 'contract';
  contract: ContractVersion;
  loader: ContractKindLoader;
}

/** Why no loader will take a file. */
export interface RefusedRoute {
  kind: FileKind | null;
  reason: RejectReason;
}

/** Where a file goes: the loader of its detected kind, its data contract, or why neither takes it. */
export type Route = KindRoute | ContractRoute | RefusedRoute;

export function isContractRoute(route: Route): route is ContractRoute {
  return 'contract' in route;
}

/** Detection refusals a data contract may still answer: not an empty file, which no contract has rows in. */
const CONTRACTS_MAY_TAKE = (reason: RejectReason) => reason.rule !== 'empty_file';

/** What takes a file: a built-in kind, a data contract, or nothing (and why). */
export type Detected = { kind: FileKind } | { kind: 'contract'; contract: ContractVersion } | RefusedRoute;

/**
 * The one rule of what takes a file, for loading and for `sluice check` alike: a built-in kind wins; a file they
 * refuse goes to the one data contract that takes `input` (when given, and when `contracts` are read); none keeps
 * the built-in refusal, several are an ambiguity a person must resolve.
 */
export function detectFile(head: Buffer, originalName: string, input?: ContractInput, contracts?: ContractChooser): Detected {
  const detected = detectKind(head, originalName);
  if (!('reject' in detected)) {
    const lineKind = detected.kind === 'ndjson' && input?.source === 'api' && contracts ? contractLineKind(head) : null;
    return lineKind === null ? { kind: detected.kind } : byLineKind(contracts as ContractChooser, input as ContractInput & { source: 'api' }, lineKind);
  }
  const refused: RefusedRoute = { kind: null, reason: detected.reject };
  if (!input || !contracts || !CONTRACTS_MAY_TAKE(detected.reject)) return refused;
  const choice = contracts.choose(input);
  if ('version' in choice) return { kind: 'contract', contract: choice.version };
  if ('none' in choice) return refused;
  return ambiguous(choice.ambiguous, 'narrow their inputs (glob, folder, s3) so that one does');
}

/**
 * An API body of NDJSON lines (SPEC §4.5) whose first line names a kind no built-in loader reads goes to the
 * contract whose `inputs.kind` it is, read as NDJSON whatever the contract's format, every line of that kind
 * (see `NdjsonFormat.lineKind`). A kind no contract takes stays NDJSON, whose loader refuses such lines.
 */
function byLineKind(contracts: ContractChooser, input: ContractInput & { source: 'api' }, kind: string): Detected {
  const choice = contracts.choose({ ...input, kind });
  if ('none' in choice) return { kind: 'ndjson' };
  if ('ambiguous' in choice) return ambiguous(choice.ambiguous, `give one of them inputs.kind "${kind}"`);
  const { contract } = choice.version;
  return { kind: 'contract', contract: { ...choice.version, contract: { ...contract, format: { type: 'ndjson', lineKind: kind } } } };
}

/** The `kind` of the first line in a detection head when it is none of the built-in line kinds; else null. */
function contractLineKind(head: Buffer): string | null {
  const text = head.toString('utf8').trimStart();
  const nl = text.indexOf('\n');
  try {
    const kind = (JSON.parse(nl < 0 ? text : text.slice(0, nl)) as { kind?: unknown }).kind;
    return typeof kind === 'string' && !(LINE_KINDS as readonly string[]).includes(kind) ? kind : null;
  } catch {
    // A first line longer than the head: the NDJSON loader refuses it as too long.
    return null;
  }
}

function ambiguous(versions: readonly ContractVersion[], fix: string): RefusedRoute {
  const names = versions.map((v) => `${v.contract.name} (${contractFileName(v)})`);
  return {
    kind: null,
    reason: { rule: 'contract_ambiguous', message: `${names.length} data contracts take this file: ${names.join(', ')}; ${fix}, then replay the file` },
  };
}

/**
 * The loader of each file kind: the processor routes every detected kind through here. Built-in kinds win; a
 * file they refuse goes to a data contract when the caller says where it came from (a ContractInput) and this
 * app reads contracts (ContractsModule), else keeps its refusal.
 */
@Injectable()
export class LoaderRegistry {
  private readonly byKind = new Map<FileKind, KindLoader>();

  constructor(
    @Inject(LOADERS) loaders: readonly KindLoader[],
    @Optional() private readonly contracts?: Contracts,
    @Optional() private readonly contractLoader?: ContractKindLoader,
  ) {
    for (const loader of loaders) this.register(loader);
  }

  register(loader: KindLoader): void {
    for (const kind of loader.kinds) {
      if (this.byKind.has(kind)) throw new Error(`two loaders claim the kind ${kind}`);
      this.byKind.set(kind, loader);
    }
  }

  /** Every loader's `warmUp`, one after the other; the lines they went through. */
  async warmUp(opts: LoadOptions): Promise<number> {
    let lines = 0;
    for (const loader of new Set(this.byKind.values())) lines += (await loader.warmUp?.(opts)) ?? 0;
    return lines;
  }

  for(kind: FileKind): KindLoader | undefined {
    return this.byKind.get(kind);
  }

  /** Routes bytes held in memory by their head (`detectionHead`: the whole first line up to `maxLineBytes`). */
  routeBytes(body: Buffer, originalName: string, maxLineBytes: number, input?: ContractInput): Route {
    return this.route(detectionHead(body, maxLineBytes), originalName, input);
  }

  /** Routes a stream by its head (`readDetectionHead`: past leading whitespace, the whole first line up to `maxLineBytes`); the stream is closed. */
  async routeStream(stream: NodeJS.ReadableStream, originalName: string, maxLineBytes: number, input?: ContractInput): Promise<Route> {
    try {
      return this.route(await readDetectionHead(stream, maxLineBytes), originalName, input);
    } finally {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
    }
  }

  /** Detects a file's kind from its head and name (see `detectFile`) and picks its loader, or its contract's. */
  route(head: Buffer, originalName: string, input?: ContractInput): Route {
    const detected = detectFile(head, originalName, input, this.contractLoader && this.contracts);
    if ('reason' in detected) return detected;
    if ('contract' in detected) return { ...detected, loader: this.contractLoader as ContractKindLoader };
    const loader = this.for(detected.kind);
    if (!loader) return { kind: detected.kind, reason: { rule: 'unsupported_kind', message: `files of kind ${detected.kind} cannot be loaded by this version` } };
    return { kind: detected.kind, loader };
  }
}
