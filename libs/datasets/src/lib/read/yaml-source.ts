import { CST, isAlias, isMap, isNode, isScalar, isSeq, Lexer, LineCounter, parseDocument, visit, type Document } from 'yaml';

/** A field's place in the document: keys and list indexes (`['columns', 2, 'type']`). */
export type FieldPath = readonly (string | number)[];

/**
 * Aliases a contract may use. A contract has no need for many, and a YAML "billion laughs" document (aliases of
 * aliases) would expand to gigabytes: past this many, reading it stops.
 */
export const MAX_ALIAS_COUNT = 50;

/**
 * How deep lists and mappings may nest. yaml builds its document recursively: a few thousand levels (`[[[[…`, or
 * `- - - -…` on one line) exhaust the stack and take seconds, so deeper nesting is refused before it is built. A
 * contract nests four levels deep; block nesting by indentation alone is bounded by the file size.
 */
export const MAX_NESTING = 64;

/** Tags of plain values, lists and mappings (YAML's core schema); any other tag is refused. */
const PLAIN_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`));

/**
 * Keys JavaScript objects treat specially: class-transformer skips them, so field validation would not see them.
 * No contract field has these names, so they are refused here.
 */
const OBJECT_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export interface YamlProblem {
  line?: number;
  message: string;
}

/** A parsed contract file: its value as plain data, and where each field is written. */
export interface YamlSource {
  value: unknown;
  /** 1-based line of the field at `path`, or of its nearest enclosing field when it is not written. */
  lineOf(path: FieldPath): number | undefined;
}

/** `columns[2].type` */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const segment of path) out += typeof segment === 'number' ? `[${segment}]` : out ? `.${segment}` : segment;
  return out;
}

/**
 * Parses one YAML document strictly: deep nesting, duplicate keys, several documents, tags beyond plain values,
 * keys that are not plain names and excessive aliases are refused, every problem with its line where it has one.
 */
export function parseYamlSource(text: string): YamlSource | { problems: YamlProblem[] } {
  const tooDeep = nestingProblem(text);
  if (tooDeep) return { problems: [tooDeep] };
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, strict: true, resolveKnownTags: false, lineCounter, prettyErrors: true });
  const lineAt = (node: unknown): number | undefined => (isNode(node) && node.range ? lineCounter.linePos(node.range[0]).line : undefined);

  // An unknown tag is reported below with the others, in words a contract's author reads more easily.
  const yamlErrors = [...doc.errors, ...doc.warnings].filter((e) => e.code !== 'TAG_RESOLVE_FAILED');
  const problems: YamlProblem[] = yamlErrors.map((e) => ({ line: e.linePos?.[0].line, message: yamlErrorMessage(e.code, e.message) }));
  visit(doc, {
    Node(_key, node) {
      if (node.tag && !PLAIN_TAGS.has(node.tag)) {
        problems.push({ line: lineAt(node), message: `the tag ${node.tag.replace('tag:yaml.org,2002:', '!!')} is not allowed in a contract; write a plain value` });
      }
    },
    Pair(_key, pair) {
      if (pair.key !== null && !isScalar(pair.key)) problems.push({ line: lineAt(pair.key), message: 'a key must be a plain name, not a list or a mapping' });
      else if (isScalar(pair.key) && OBJECT_KEYS.has(String(pair.key.value))) {
        problems.push({ line: lineAt(pair.key), message: `${String(pair.key.value)} is not a field of a contract; remove it` });
      }
    },
  });
  if (problems.length) return { problems: dedupe(problems) };

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    // yaml throws a ReferenceError when aliases expand too far, or name no anchor.
    const message = e instanceof Error ? e.message : String(e);
    return {
      problems: [
        {
          message: message.startsWith('Excessive alias count')
            ? `the file's aliases (*name) expand too far (more than ${MAX_ALIAS_COUNT} uses): write the values out instead`
            : `the file is not valid YAML: ${message}`,
        },
      ],
    };
  }
  return { value, lineOf: (path) => lineOfPath(doc, path, lineAt) };
}

/**
 * Lists and mappings nested deeper than MAX_NESTING, found with yaml's lexer (which knows quotes and comments) and
 * stopping there: flow collections by their brackets, compact block ones (`- - x`) by the column of their indicator.
 */
function nestingProblem(text: string): YamlProblem | null {
  let line = 1;
  let column = 0;
  let flowDepth = 0;
  for (const token of new Lexer().lex(text)) {
    const type = CST.tokenType(token);
    // Markers the lexer inserts, not text of the file.
    if (type === 'doc-mode' || type === 'scalar' || type === 'flow-error-end') continue;
    if (type === 'flow-map-start' || type === 'flow-seq-start') flowDepth++;
    else if (type === 'flow-map-end' || type === 'flow-seq-end') flowDepth = Math.max(0, flowDepth - 1);
    // Each compact block level (`- - x`) takes at least two columns, so its indicator's column bounds the depth.
    const compactTooDeep = (type === 'seq-item-ind' || type === 'explicit-key-ind') && column > 2 * MAX_NESTING;
    if (flowDepth > MAX_NESTING || compactTooDeep) {
      return { line, message: `the file nests lists or mappings more than ${MAX_NESTING} levels deep; a contract needs far fewer` };
    }
    const lastBreak = token.lastIndexOf('\n');
    if (lastBreak < 0) column += token.length;
    else {
      line += token.split('\n').length - 1;
      column = token.length - lastBreak - 1;
    }
  }
  return null;
}

/** Walks the document along `path`: the line of the last key (or list item) found, so a missing field points at its parent. */
function lineOfPath(doc: Document, path: FieldPath, lineAt: (node: unknown) => number | undefined): number | undefined {
  let node: unknown = doc.contents;
  let line = lineAt(node);
  for (const segment of path) {
    if (isAlias(node)) break;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) break;
      line = lineAt(pair.key) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
      node = node.items[segment];
      line = lineAt(node) ?? line;
    } else {
      break;
    }
  }
  return line;
}

/** yaml's message without the position (reported as the line) and the excerpt of the source it appends. */
function yamlErrorMessage(code: string, message: string): string {
  if (code === 'DUPLICATE_KEY') return 'a key is given twice in the same mapping; give each field once';
  if (code === 'MULTIPLE_DOCS') return 'the file holds more than one YAML document (separated by ---); a contract is one document';
  return `the file is not valid YAML: ${message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`;
}

function dedupe(problems: YamlProblem[]): YamlProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.line}:${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
