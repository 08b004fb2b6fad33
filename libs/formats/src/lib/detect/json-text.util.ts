import { DEFAULT_MAX_JSON_DEPTH, JsonSyntaxError, parseJson } from '../json/json-parser';

/**
 * The text without the number or word a cut head may end inside (`1.`, `-`, `1e`, `tru`, `hel`). A scan back
 * from the end: an end-anchored regular expression would be quadratic on a long run of letters.
 */
function withoutCutToken(text: string): string {
  let i = text.length;
  while (i > 0 && isTokenChar(text.charCodeAt(i - 1))) i--;
  return text.slice(0, i);
}

const isTokenChar = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x2e || c === 0x2b || c === 0x2d;

/**
 * Whether `text` is JSON, or the start of a JSON text cut off (by the file's end or, when `complete` is
 * false, by the head's): what follows a bracket or quote must parse too, so `[2024-07-21T14:30:00Z] error`
 * or `{user} logged in` is no JSON. A whole object followed by other text is JSON with trailing text (its
 * loader says where); a list or string followed by words is a line of text (`[1] first entry`).
 */
export function isJsonText(text: string, complete: boolean): boolean {
  // Most heads are whole JSON: the native parser says yes at half the cost. Anything it refuses (NaN, a cut
  // head, trailing text) gets the answer below.
  if (complete && isNativeJson(text)) return true;
  try {
    parseJson(complete ? text : withoutCutToken(text), { maxDepth: DEFAULT_MAX_JSON_DEPTH });
    return true;
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    return e.rule !== 'invalid_json' || (e.afterValue && text.trimStart().startsWith('{'));
  }
}

function isNativeJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Whether a head is JSON: one JSON text (see `isJsonText`), or lines of JSON whose first is a whole object or array. */
export function looksJson(text: string, complete: boolean): boolean {
  if (isJsonText(text, complete)) return true;
  const body = text.trimStart();
  const end = body.search(/[\r\n]/);
  if (end < 0) return false;
  const first = body.slice(0, end).trim();
  return (first.startsWith('[') || first.startsWith('{')) && isJsonText(first, true);
}
