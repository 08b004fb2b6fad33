import type { ContractColumn } from '../contract';
import type { ColumnContext } from './column-value';
import { compileColumn } from './compile-column';

const CSV: ColumnContext = { decimalComma: false };
const DECIMAL_COMMA: ColumnContext = { decimalComma: true };

function column(over: Partial<ContractColumn>): ContractColumn {
  return { source: 'reading', name: 'reading', type: 'text', required: false, ambiguous: 'reject', ...over };
}

/** Reads each raw value with the column; one compile for all of them, as a load does. */
function readAll(over: Partial<ContractColumn>, raws: unknown[], ctx: ColumnContext = CSV) {
  const parse = compileColumn(column(over), ctx);
  return raws.map((raw) => parse(raw));
}

function read(over: Partial<ContractColumn>, raw: unknown, ctx: ColumnContext = CSV) {
  return compileColumn(column(over), ctx)(raw);
}

/** The COPY texts of accepted values (throws on a refused one, naming it). */
function texts(over: Partial<ContractColumn>, raws: unknown[], ctx: ColumnContext = CSV): (string | null)[] {
  return readAll(over, raws, ctx).map((r, i) => {
    if (!r.ok) throw new Error(`${String(raws[i])} was refused: ${r.message}`);
    return r.text;
  });
}

/** The rules of refused values (throws on an accepted one, naming it). */
function rules(over: Partial<ContractColumn>, raws: unknown[], ctx: ColumnContext = CSV): string[] {
  return readAll(over, raws, ctx).map((r, i) => {
    if (r.ok) throw new Error(`${String(raws[i])} was accepted as ${r.text}`);
    return r.rule;
  });
}

describe('compileColumn', () => {
  describe('missing values', () => {
    it('makes an absent, null or empty value NULL in an optional column', () => {
      expect(texts({ type: 'text' }, [undefined, null, ''])).toEqual([null, null, null]);
      expect(texts({ type: 'int' }, [undefined, null, '', '   '])).toEqual([null, null, null, null]);
    });

    it('refuses them in a required column, saying which it was', () => {
      expect(readAll({ type: 'float', required: true }, [undefined, null, '', ' '])).toEqual([
        { ok: false, rule: 'missing_value', message: 'reading is missing; the contract requires a value' },
        { ok: false, rule: 'missing_value', message: 'reading is null; the contract requires a value' },
        { ok: false, rule: 'missing_value', message: 'reading is empty; the contract requires a value' },
        { ok: false, rule: 'missing_value', message: 'reading is empty; the contract requires a value' },
      ]);
    });

    it('keeps spaces as a text value', () => {
      expect(texts({ type: 'text', required: true }, ['  '])).toEqual(['  ']);
    });
  });

  describe('text', () => {
    it('takes strings as they are and writes JSON numbers, booleans and objects as text', () => {
      expect(texts({ type: 'text' }, ['abc', 42, 1.5, true, { a: [1] }])).toEqual(['abc', '42', '1.5', 'true', '{"a":[1]}']);
    });

    it('escapes backslash, tab, LF and CR for COPY', () => {
      expect(texts({ type: 'text' }, ['a\tb\nc\\d\re', 'C:\\temp'])).toEqual(['a\\tb\\nc\\\\d\\re', 'C:\\\\temp']);
    });

    it('compares enum values trimmed, and writes the trimmed value', () => {
      const enumColumn = { type: 'text' as const, source: 'colour', enum: ['red', ' green '] };
      expect(texts(enumColumn, ['red', ' green'])).toEqual(['red', 'green']);
      expect(read(enumColumn, 'blue')).toEqual({ ok: false, rule: 'not_in_enum', message: 'colour "blue" is not one of "red", "green"' });
      expect(rules(enumColumn, ['Red', 'gr een'])).toEqual(['not_in_enum', 'not_in_enum']);
    });

    it('counts max_length in characters, a surrogate pair as one', () => {
      expect(texts({ type: 'text', maxLength: 3 }, ['abc', '😀😀😀'])).toEqual(['abc', '😀😀😀']);
      expect(read({ type: 'text', maxLength: 3 }, 'abcd')).toEqual({
        ok: false,
        rule: 'too_long',
        message: 'reading "abcd" is 4 characters long; the contract allows at most 3',
      });
    });

    it('matches the pattern against the whole value, alternations included', () => {
      expect(texts({ type: 'text', pattern: '[A-Z]{2}\\d' }, ['AB1'])).toEqual(['AB1']);
      expect(rules({ type: 'text', pattern: '[A-Z]{2}\\d' }, ['xAB1', 'AB12', 'ab1'])).toEqual([
        'pattern_mismatch',
        'pattern_mismatch',
        'pattern_mismatch',
      ]);
      expect(texts({ type: 'text', pattern: 'on|off' }, ['on', 'off'])).toEqual(['on', 'off']);
      expect(rules({ type: 'text', pattern: 'on|off' }, ['onoff', 'only'])).toEqual(['pattern_mismatch', 'pattern_mismatch']);
      expect(texts({ type: 'text', pattern: '^\\d+$' }, ['123'])).toEqual(['123']);
      expect(read({ type: 'text', pattern: '\\d+' }, 'x1')).toMatchObject({ message: 'reading "x1" does not match the pattern \\d+' });
    });

    it('caps the value a message quotes at 100 characters', () => {
      const result = read({ type: 'text', maxLength: 5 }, 'x'.repeat(500));
      expect(result).toMatchObject({ message: `reading "${'x'.repeat(100)}…" is 500 characters long; the contract allows at most 5` });
    });

    it('refuses a pattern that is no regular expression when compiled', () => {
      expect(() => compileColumn(column({ type: 'text', pattern: '(' }), CSV)).toThrow(/column reading: the pattern \( is not a regular expression/);
    });
  });

  describe('int', () => {
    it('reads whole numbers from text (trimmed, + and leading zeros dropped) and JSON', () => {
      expect(texts({ type: 'int' }, ['42', ' -7 ', '+5', '0007', 42, -0, '2147483647', '-2147483648'])).toEqual([
        '42',
        '-7',
        '5',
        '7',
        '42',
        '0',
        '2147483647',
        '-2147483648',
      ]);
    });

    it('refuses numbers beyond int', () => {
      expect(read({ type: 'int' }, '2147483648')).toEqual({
        ok: false,
        rule: 'out_of_range',
        message: 'reading "2147483648" is beyond the range of int, -2147483648 to 2147483647',
      });
      expect(rules({ type: 'int' }, ['-2147483649', '99999999999999999999', 2 ** 31, 1e21])).toEqual([
        'out_of_range',
        'out_of_range',
        'out_of_range',
        'out_of_range',
      ]);
    });

    it('refuses fractions and what is not a number', () => {
      expect(read({ type: 'int' }, '3.5')).toEqual({ ok: false, rule: 'not_a_number', message: 'reading "3.5" is not a whole number' });
      expect(read({ type: 'int' }, 3.5)).toEqual({ ok: false, rule: 'not_a_number', message: 'reading "3.5" is not a whole number' });
      expect(read({ type: 'int' }, 'abc')).toEqual({ ok: false, rule: 'not_a_number', message: 'reading "abc" is not a number' });
      expect(read({ type: 'int' }, [1])).toEqual({ ok: false, rule: 'not_a_number', message: 'reading "[1]" is a JSON array, not a number' });
      expect(rules({ type: 'int' }, ['1e3', '0x10', '1 000', '1,000', true, { n: 1 }])).toEqual(Array(6).fill('not_a_number'));
    });

    it('drops thousands dots with a decimal comma, and refuses a comma fraction', () => {
      expect(texts({ type: 'int' }, ['1.234', '-1.234.567', '12'], DECIMAL_COMMA)).toEqual(['1234', '-1234567', '12']);
      expect(rules({ type: 'int' }, ['12.34', '1,0', '1.234,5'], DECIMAL_COMMA)).toEqual(['not_a_number', 'not_a_number', 'not_a_number']);
    });

    it('applies min and max inclusively', () => {
      const bounded = { type: 'int' as const, min: 0, max: 100 };
      expect(texts(bounded, ['0', '100', 50])).toEqual(['0', '100', '50']);
      expect(readAll(bounded, ['-1', 101])).toEqual([
        { ok: false, rule: 'out_of_range', message: `reading "-1" is below the contract's min 0` },
        { ok: false, rule: 'out_of_range', message: `reading "101" is above the contract's max 100` },
      ]);
    });
  });

  describe('bigint', () => {
    it('keeps every digit, beyond 2^53 too', () => {
      expect(texts({ type: 'bigint' }, ['9007199254740993', '9223372036854775807', '-9223372036854775808', '+00012', 123])).toEqual([
        '9007199254740993',
        '9223372036854775807',
        '-9223372036854775808',
        '12',
        '123',
      ]);
      expect(texts({ type: 'bigint' }, [9007199254740993n])).toEqual(['9007199254740993']);
    });

    it('refuses numbers beyond int8, and JSON numbers that already lost digits', () => {
      expect(rules({ type: 'bigint' }, ['9223372036854775808', '-9223372036854775809', '123456789012345678901234'])).toEqual([
        'out_of_range',
        'out_of_range',
        'out_of_range',
      ]);
      expect(read({ type: 'bigint' }, 2 ** 60)).toMatchObject({ ok: false, rule: 'out_of_range', message: expect.stringContaining('write it as a JSON string') });
      expect(rules({ type: 'bigint' }, ['1.5', 1.5, 'x'])).toEqual(['not_a_number', 'not_a_number', 'not_a_number']);
    });

    it('applies min and max exactly', () => {
      const bounded = { type: 'bigint' as const, min: -1000, max: 1000 };
      expect(texts(bounded, ['1000', '-1000'])).toEqual(['1000', '-1000']);
      expect(rules(bounded, ['1001', '-1001', '9223372036854775807'])).toEqual(['out_of_range', 'out_of_range', 'out_of_range']);
    });
  });

  describe('float', () => {
    it('reads finite decimals and JSON numbers', () => {
      expect(texts({ type: 'float' }, ['3.5', ' -1e3 ', '.5', '5.', '+2', 2.25, '1e-310'])).toEqual(['3.5', '-1000', '0.5', '5', '2', '2.25', '1e-310']);
    });

    it('refuses what is not a finite float', () => {
      expect(rules({ type: 'float' }, ['NaN', 'Infinity', '0x10', '1,5', '1.2.3', '.', '-', 'e5', true])).toEqual(Array(9).fill('not_a_number'));
      expect(rules({ type: 'float' }, ['1e400', '-1e400', '1e-400'])).toEqual(['out_of_range', 'out_of_range', 'out_of_range']);
    });

    it('reads a decimal comma, with dots grouping thousands', () => {
      expect(texts({ type: 'float' }, ['3,5', '1.234,5', '-1.234.567,25', '1.234', '7'], DECIMAL_COMMA)).toEqual([
        '3.5',
        '1234.5',
        '-1234567.25',
        '1234',
        '7',
      ]);
    });

    it('refuses a decimal point where a decimal comma is expected, rather than read 3.5 as 35', () => {
      expect(read({ type: 'float' }, '3.5', DECIMAL_COMMA)).toEqual({
        ok: false,
        rule: 'not_a_number',
        message: 'reading "3.5" is not a number (this file writes numbers with a decimal comma, such as 1.234,5)',
      });
      expect(rules({ type: 'float' }, ['1,2,3', '12.34,5', '1.2345,6'], DECIMAL_COMMA)).toEqual(Array(3).fill('not_a_number'));
    });

    it('reads JSON numbers with their point even when the CSV setting says decimal comma', () => {
      expect(texts({ type: 'float' }, [3.5], DECIMAL_COMMA)).toEqual(['3.5']);
    });

    it('applies min and max inclusively', () => {
      const bounded = { type: 'float' as const, min: -10.5, max: 10.5 };
      expect(texts(bounded, ['10.5', '-10.5'])).toEqual(['10.5', '-10.5']);
      expect(rules(bounded, ['10.51', -11])).toEqual(['out_of_range', 'out_of_range']);
    });
  });

  describe('numeric', () => {
    it('keeps the exact decimal text, scale included', () => {
      const long = '123456789012345678901234567890.123456789012345678901234567890';
      expect(texts({ type: 'numeric' }, [long, '1.50', '+.5', '-0.000', '1e5', '2.5E-3', 0.1])).toEqual([
        long,
        '1.50',
        '0.5',
        '-0.000',
        '1e5',
        '2.5e-3',
        '0.1',
      ]);
    });

    it('reads a decimal comma exactly', () => {
      expect(texts({ type: 'numeric' }, ['1.234,50', '-0,001'], DECIMAL_COMMA)).toEqual(['1234.50', '-0.001']);
    });

    it('takes up to 1000 digits and an exponent up to ±1000', () => {
      expect(texts({ type: 'numeric' }, ['9'.repeat(1000), '1e1000', '1e-1000'])).toEqual(['9'.repeat(1000), '1e1000', '1e-1000']);
      expect(read({ type: 'numeric' }, '9'.repeat(1001))).toMatchObject({
        ok: false,
        rule: 'out_of_range',
        message: expect.stringContaining('has more than 1000 digits, the most a numeric value may have'),
      });
      expect(rules({ type: 'numeric' }, ['1'.repeat(5000)])).toEqual(['out_of_range']);
      expect(rules({ type: 'numeric' }, ['1e1001', 'NaN', '1,5'])).toEqual(['out_of_range', 'not_a_number', 'not_a_number']);
    });

    it('compares with min and max exactly, where a float could not tell', () => {
      const bounded = { type: 'numeric' as const, min: -5, max: 0.1 };
      expect(texts(bounded, ['0.1', '0.10000', '-5', '-5.000', '1e-1', '-0.5e1'])).toEqual(['0.1', '0.10000', '-5', '-5.000', '1e-1', '-0.5e1']);
      expect(rules(bounded, ['0.1000000000000000000000001', '-5.0000000000000000000001', '1', '-6', '0.2'])).toEqual(
        Array(5).fill('out_of_range'),
      );
      expect(texts({ type: 'numeric', min: 0 }, ['0', '-0', '0.0'])).toEqual(['0', '-0', '0.0']);
      expect(rules({ type: 'numeric', min: 1e21 }, ['999999999999999999999'])).toEqual(['out_of_range']);
    });
  });

  describe('bool', () => {
    it('reads the usual words in any case, and JSON booleans', () => {
      expect(texts({ type: 'bool' }, ['true', 'T', 'Yes', 'y', '1', 'ON', true, 1])).toEqual(Array(8).fill('t'));
      expect(texts({ type: 'bool' }, ['FALSE', 'f', 'no', 'N', '0', 'off', false, 0])).toEqual(Array(8).fill('f'));
    });

    it('refuses anything else', () => {
      expect(read({ type: 'bool' }, 'maybe')).toEqual({
        ok: false,
        rule: 'invalid_bool',
        message: 'reading "maybe" is not a boolean; write true/false, t/f, yes/no, y/n, 1/0 or on/off',
      });
      expect(rules({ type: 'bool' }, ['2', 'tru', 2, {}])).toEqual(Array(4).fill('invalid_bool'));
    });
  });

  describe('jsonb', () => {
    it('takes JSON text from a CSV field as written, escaped for COPY', () => {
      expect(texts({ type: 'jsonb' }, ['{"a": [1, 2.50]}', '"text"', '12345678901234567890', '{"line":"a\\nb"}'])).toEqual([
        '{"a": [1, 2.50]}',
        '"text"',
        '12345678901234567890',
        '{"line":"a\\\\nb"}',
      ]);
    });

    it('refuses a CSV field that is not JSON', () => {
      expect(read({ type: 'jsonb' }, '{a:1}')).toMatchObject({ ok: false, rule: 'invalid_json', message: expect.stringMatching(/^reading "\{a:1\}" is not JSON: /) });
      expect(rules({ type: 'jsonb' }, ['hello', '[1,', "{'a':1}"])).toEqual(Array(3).fill('invalid_json'));
    });

    it('writes a JSON record value as JSON, a string as a JSON string', () => {
      const json: ColumnContext = { decimalComma: false, jsonSource: true };
      expect(texts({ type: 'jsonb' }, [{ a: 1, b: [true, null] }, 'hello', 3.5, false, { t: 'tab\there' }], json)).toEqual([
        '{"a":1,"b":[true,null]}',
        '"hello"',
        '3.5',
        'false',
        '{"t":"tab\\\\there"}',
      ]);
    });

    it('refuses the escapes PostgreSQL jsonb cannot store', () => {
      expect(rules({ type: 'jsonb' }, ['{"a":"\\u0000"}', '"\\ud83d"', '"\\ude00"', '"\\ud83dx"'])).toEqual(Array(4).fill('invalid_json'));
      expect(rules({ type: 'jsonb' }, [{ a: 'nul\u0000' }], { decimalComma: false, jsonSource: true })).toEqual(['invalid_json']);
      expect(texts({ type: 'jsonb' }, ['"\\\\u0000"', '"\\ud83d\\ude00"'])).toEqual(['"\\\\\\\\u0000"', '"\\\\ud83d\\\\ude00"']);
    });
  });
});
