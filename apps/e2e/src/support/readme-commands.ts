/**
 * The shell commands of README.md, as a reader types them. A `# →` comment states what the command prints
 * (parts separated by `…`, any order of other output around them); a parenthesis after the expectation is
 * for the reader only. A command whose comment says "until Ctrl-C" keeps running: it is started, must
 * print its expectation, and is stopped with SIGINT later.
 */
export interface ReadmeCommand {
  section: string;
  /** The command as written (continuation lines joined with their backslashes kept). */
  text: string;
  expect: string[];
  untilCtrlC: boolean;
}

const EXPECT = /#\s*→\s*(.*)$/;

/** Commands of the ```bash blocks under the given headings (## or ###), in README order. */
export function readmeCommands(markdown: string, sections: readonly string[]): ReadmeCommand[] {
  const out: ReadmeCommand[] = [];
  let section = '';
  let inBlock: 'bash' | 'other' | null = null;
  let pending: string[] = [];
  for (const line of markdown.split('\n')) {
    if (inBlock === null) {
      const heading = /^#{2,3} (.*)$/.exec(line);
      if (heading) section = heading[1].trim();
      else if (line.startsWith('```')) inBlock = line.trim() === '```bash' ? 'bash' : 'other';
      continue;
    }
    if (line.startsWith('```')) {
      inBlock = null;
      continue;
    }
    if (inBlock !== 'bash' || !sections.includes(section)) continue;
    if (pending.length === 0 && (line.trim() === '' || line.trimStart().startsWith('#'))) continue;
    pending.push(line);
    if (line.trimEnd().endsWith('\\')) continue;
    const text = pending.join('\n');
    pending = [];
    const comment = EXPECT.exec(text.split('\n').map((l) => commentOf(l)).join(' ').trim());
    const note = comment?.[1] ?? '';
    const expectation = note.split(/\s{3}\(/)[0];
    out.push({
      section,
      text,
      expect: expectation ? expectation.split('…').map((p) => p.trim()).filter(Boolean) : [],
      untilCtrlC: /until Ctrl-C/.test(note),
    });
  }
  return out;
}

/** The comment of a shell line: from the first `#` that starts a word outside quotes. */
function commentOf(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(i);
  }
  return '';
}

/** Reads that change nothing: a reader repeats them until the data has arrived, and so does the test. */
export function isRepeatableRead(command: string): boolean {
  if (/^curl\b/.test(command)) return !/\s(-X|--data-binary|--data|-d|-F|-T)\s/.test(` ${command} `) && !/-N\b/.test(command);
  return /^npx sluice (status|why|retrieve-sensor-readings)\b/.test(command);
}

/** Every repository path the README names under fixtures/. */
export function fixturePaths(markdown: string): string[] {
  // Not a path elsewhere (`../shared/fixtures/…`), and a glob (`split_*.csv`) names its folder.
  return [...new Set([...markdown.matchAll(/(?<![\w./-])fixtures\/[\w./-]*\w(?![\w*])/g)].map((m) => m[0]))];
}
