/** Most distinct tags a file's ledger row counts one by one; lines of further tags count under OTHER_TAGS. */
export const MAX_COUNTED_TAGS = 100;
/** Cannot be a tag (a tag starts with a letter and holds no parenthesis). */
export const OTHER_TAGS = '(other)';

/** Lines per tag of one file, in bounded memory whatever the file holds. Untagged lines are not counted. */
export class TagCounts {
  private readonly counts = new Map<string, number>();

  add(tag: string | null): void {
    if (tag === null) return;
    const key = this.counts.has(tag) || this.counts.size < MAX_COUNTED_TAGS ? tag : OTHER_TAGS;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** `{"error": 1, "info": 2}`, keys sorted. */
  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}
