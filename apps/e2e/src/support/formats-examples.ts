/**
 * The examples of docs/formats.md: each `<!-- example: NAME -->` and the code block after it, a whole file,
 * and the kind each one must be recognised as.
 */
export interface FormatExample {
  name: string;
  content: string;
}

export function formatExamples(markdown: string): FormatExample[] {
  return [...markdown.matchAll(/<!-- example: (\S+) -->\n```[^\n]*\n([\s\S]*?)```/g)].map((m) => ({ name: m[1], content: m[2] }));
}

/** The kind the ledger records for each example, as the doc's table names it. */
export const EXAMPLE_KINDS: Readonly<Record<string, string>> = {
  'wide.csv': 'sensor_wide_csv',
  'long.csv': 'sensor_long_csv',
  'mapping.csv': 'sensor_mapping_csv',
  'measurement.json': 'measurement',
  'vehicles.json': 'vehicle_status',
  'detections.json': 'detections',
  'lines.ndjson': 'ndjson',
  'app.log': 'log',
};
