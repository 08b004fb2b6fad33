import type { S3Source } from '@sluice/config';
import { S3ObjectStore } from './s3-object-store';

/** The S3 client of every configured source, by source name. */
export class ObjectStores {
  private readonly stores: Map<string, S3ObjectStore>;

  constructor(sources: readonly S3Source[]) {
    this.stores = new Map(sources.map((s) => [s.name, new S3ObjectStore(s)]));
  }

  get all(): S3ObjectStore[] {
    return [...this.stores.values()];
  }

  get(name: string): S3ObjectStore | undefined {
    return this.stores.get(name);
  }

  destroy(): void {
    for (const s of this.stores.values()) s.destroy();
  }
}
