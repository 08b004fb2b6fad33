/** File names longer than this are not names people type into a glob. */
const MAX_FILE_NAME_LENGTH = 255;

/** Extensions: `.csv`, `.csv.gz`; a part starting with a digit (`.2024`) belongs to the name. */
const EXTENSION = /(?:\.[A-Za-z][A-Za-z0-9]*)+$/;
/** A number, or digits joined by date and time separators (`2024-03-29`, `2024-03-29T10-00-00`, `20240329_1000`). */
const NUMBERED = /\d+(?:[-_.:T]\d+)*/g;
/** Characters a glob gives a meaning to. */
const GLOB_SPECIAL = /[*?[\]{}\\]/g;

/**
 * A glob for the files a file's name stands for: its dates and numbers become `*`, its extension stays
 * (`weather_2024-03-29.csv` → `weather_*.csv`, `orders-000123.ndjson` → `orders-*.ndjson`, `export.json` stays).
 * Glob characters the name holds are escaped. Only the name counts, not a folder before it.
 */
export function globFromFileName(fileName: string): string {
  const name = (fileName.split(/[\\/]/).pop() ?? '').slice(0, MAX_FILE_NAME_LENGTH);
  const extension = EXTENSION.exec(name)?.[0] ?? '';
  const stem = name.slice(0, name.length - extension.length);
  const parts = stem.split(NUMBERED).map((part) => part.replace(GLOB_SPECIAL, '\\$&'));
  return parts.join('*') + extension;
}
