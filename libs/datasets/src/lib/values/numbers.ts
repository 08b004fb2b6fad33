/**
 * Number text as a contract reads it. Without a decimal comma: `-1234.5`, `.5`, `1e3`; a `,` is not a number.
 * With a decimal comma: `-1234,5` or `-1.234,5`, where a `.` groups thousands; it must group them in threes,
 * so a `3.5` written with a point is refused rather than read as 35.
 */

/** A decimal number's parts: sign, integer and fraction digits (either may be empty, not both), exponent. */
export interface DecimalParts {
  negative: boolean;
  int: string;
  frac: string;
  exp: number;
}

/** Longest number text read at all: 1000 digits with their thousands separators fit. */
export const NUMBER_TEXT_MAX = 1400;

const POINT_DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,5}))?$/;
const COMMA_DECIMAL = /^([+-]?)(\d{1,3}(?:\.\d{3})+|\d*)(?:,(\d*))?(?:[eE]([+-]?\d{1,5}))?$/;
const POINT_INTEGER = /^[+-]?\d+$/;
const COMMA_INTEGER = /^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)$/;

/** The parts of a decimal number's text, or null when it is not one. */
export function decimalParts(text: string, decimalComma: boolean): DecimalParts | null {
  if (text.length > NUMBER_TEXT_MAX) return null;
  const m = (decimalComma ? COMMA_DECIMAL : POINT_DECIMAL).exec(text);
  if (m === null) return null;
  const int = decimalComma ? m[2].replaceAll('.', '') : m[2];
  const frac = m[3] ?? '';
  if (int === '' && frac === '') return null;
  return { negative: m[1] === '-', int, frac, exp: m[4] === undefined ? 0 : Number(m[4]) };
}

/** Whole-number text (thousands separators dropped), sign kept and `+` dropped, or null when it is not one. */
export function integerText(text: string, decimalComma: boolean): string | null {
  if (text.length > NUMBER_TEXT_MAX) return null;
  if (!(decimalComma ? COMMA_INTEGER : POINT_INTEGER).test(text)) return null;
  const plain = decimalComma ? text.replaceAll('.', '') : text;
  return plain.charCodeAt(0) === 43 ? plain.slice(1) : plain;
}

/** Digits of a whole number's text after its sign and leading zeros: how many there really are. */
export function significantDigits(integer: string): number {
  let i = integer.charCodeAt(0) === 45 ? 1 : 0;
  while (i < integer.length - 1 && integer.charCodeAt(i) === 48) i++;
  return integer.length - i;
}

/** Canonical text of the parts, as PostgreSQL's numeric and float8 read it (`.5` → `0.5`, scale kept: `1.50`). */
export function decimalText(d: DecimalParts): string {
  const sign = d.negative ? '-' : '';
  const frac = d.frac === '' ? '' : `.${d.frac}`;
  const exp = d.exp === 0 ? '' : `e${d.exp}`;
  return `${sign}${d.int === '' ? '0' : d.int}${frac}${exp}`;
}

/** Whether any digit of the number is not zero. */
export function isNonZero(d: DecimalParts): boolean {
  return /[1-9]/.test(d.int) || /[1-9]/.test(d.frac);
}

/** A decimal as sign × 0.digits × 10^point, digits without leading or trailing zeros: exact to compare. */
interface Scaled {
  sign: -1 | 0 | 1;
  digits: string;
  point: number;
}

function scaled(d: DecimalParts): Scaled {
  const all = d.int + d.frac;
  let start = 0;
  while (start < all.length && all.charCodeAt(start) === 48) start++;
  if (start === all.length) return { sign: 0, digits: '', point: 0 };
  let end = all.length;
  while (all.charCodeAt(end - 1) === 48) end--;
  return { sign: d.negative ? -1 : 1, digits: all.slice(start, end), point: d.int.length - start + d.exp };
}

/**
 * Compares a decimal with a bound exactly (no float conversion of the decimal): negative, zero or positive.
 * A bound is a JS number, so its shortest round-trip text is the decimal a person wrote in the contract.
 */
export function compareDecimal(d: DecimalParts, bound: number): number {
  const b = decimalParts(String(bound), false);
  if (b === null) return bound === Infinity ? -1 : 1; // ±Infinity: nothing is beyond it
  const x = scaled(d);
  const y = scaled(b);
  if (x.sign !== y.sign) return x.sign < y.sign ? -1 : 1;
  if (x.sign === 0) return 0;
  let order = x.point === y.point ? 0 : x.point < y.point ? -1 : 1;
  if (order === 0) {
    const n = Math.max(x.digits.length, y.digits.length);
    const a = x.digits.padEnd(n, '0');
    const c = y.digits.padEnd(n, '0');
    order = a === c ? 0 : a < c ? -1 : 1;
  }
  return x.sign * order;
}
