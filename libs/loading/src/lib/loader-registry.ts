import { Injectable } from '@nestjs/common';
import type { FileKind } from '@sluice/contracts';
import { JsonDocumentLoader } from './json/json-document.loader';
import { NdjsonLoader } from './json/ndjson.loader';
import type { KindLoader } from './kind-loader';
import { SensorCsvLoader } from './sensor/sensor-csv.loader';

/** The loader of each file kind: the processor routes every detected kind through here. */
@Injectable()
export class LoaderRegistry {
  private readonly byKind = new Map<FileKind, KindLoader>();

  constructor(sensors: SensorCsvLoader, documents: JsonDocumentLoader, ndjson: NdjsonLoader) {
    for (const loader of [sensors, documents, ndjson]) this.register(loader);
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
}
