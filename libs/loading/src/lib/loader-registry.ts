import { Inject, Injectable } from '@nestjs/common';
import type { FileKind, RejectReason } from '@sluice/contracts';
import { detectionHead, detectKind, readDetectionHead } from '@sluice/formats';
import { LOADERS, type KindLoader } from './kind-loader';

/** Where a file goes: the loader of its detected kind, or why no loader will take it. */
export type Route = { kind: FileKind; loader: KindLoader } | { kind: FileKind | null; reason: RejectReason };

/** The loader of each file kind: the processor routes every detected kind through here. */
@Injectable()
export class LoaderRegistry {
  private readonly byKind = new Map<FileKind, KindLoader>();

  constructor(@Inject(LOADERS) loaders: readonly KindLoader[]) {
    for (const loader of loaders) this.register(loader);
  }

  register(loader: KindLoader): void {
    for (const kind of loader.kinds) {
      if (this.byKind.has(kind)) throw new Error(`two loaders claim the kind ${kind}`);
      this.byKind.set(kind, loader);
    }
  }

  for(kind: FileKind): KindLoader | undefined {
    return this.byKind.get(kind);
  }

  /** Routes bytes held in memory by their head (`detectionHead`: the whole first line up to `maxLineBytes`). */
  routeBytes(body: Buffer, originalName: string, maxLineBytes: number): Route {
    return this.route(detectionHead(body, maxLineBytes), originalName);
  }

  /** Routes a stream by its head (`readDetectionHead`: past leading whitespace, the whole first line up to `maxLineBytes`); the stream is closed. */
  async routeStream(stream: NodeJS.ReadableStream, originalName: string, maxLineBytes: number): Promise<Route> {
    try {
      return this.route(await readDetectionHead(stream, maxLineBytes), originalName);
    } finally {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
    }
  }

  /** Detects a file's kind from its head (see `detectKind`) and name and picks its loader. */
  route(head: Buffer, originalName: string): Route {
    const detected = detectKind(head, originalName);
    if ('reject' in detected) return { kind: null, reason: detected.reject };
    const loader = this.for(detected.kind);
    if (!loader) return { kind: detected.kind, reason: { rule: 'unsupported_kind', message: `files of kind ${detected.kind} cannot be loaded by this version` } };
    return { kind: detected.kind, loader };
  }
}
