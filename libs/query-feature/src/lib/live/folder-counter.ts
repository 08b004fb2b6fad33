import { opendir } from 'node:fs/promises';
import { join } from 'node:path';

export const DROP_FOLDERS = ['incoming', 'processing', 'processed', 'quarantine'] as const;
export const MAX_COUNTED = 100_000;

export interface FolderCount {
  counts: Record<string, number>;
  truncated: boolean;
}

/**
 * Counts the files in each area of the drop folder, sub-folders included. Dotfiles (writers' temporary
 * names) and quarantine's `<name>.error.json` reports are not data files and are left out. Symlinks are
 * not followed. Stops at `max` per area so a huge processed/ cannot stall the API.
 */
export async function countDropFolders(root: string, max = MAX_COUNTED): Promise<FolderCount> {
  let truncated = false;
  const counts: Record<string, number> = {};
  for (const area of DROP_FOLDERS) {
    let n = 0;
    const stack = [join(root, area)];
    while (stack.length > 0 && n < max) {
      const dir = stack.pop() as string;
      let handle;
      try {
        handle = await opendir(dir);
      } catch {
        continue; // missing area (not created yet) or gone meanwhile
      }
      for await (const entry of handle) {
        if (entry.name.startsWith('.')) continue;
        if (entry.isDirectory()) stack.push(join(dir, entry.name));
        else if (entry.isFile() && !(area === 'quarantine' && entry.name.endsWith('.error.json'))) {
          if (++n >= max) break;
        }
      }
    }
    if (n >= max) truncated = true;
    counts[area] = n;
  }
  return { counts, truncated };
}
