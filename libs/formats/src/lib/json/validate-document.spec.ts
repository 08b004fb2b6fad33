import 'reflect-metadata';
import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { validateSync } from 'class-validator';
import { MAX_ABS_VALUE } from '../sensor/sensor-record';
import { MEASUREMENT_MAX_SAMPLES, MeasurementDto, MeasurementLineDto } from './document.dto';
import { parseJson } from './json-parser';
import { passesDirectCheck, validateItem, validateLine } from './validate-document';

/** What class-validator alone says of an item (on class-transformer's instance), with the options validateAs uses. */
function classValidatorPasses(cls: ClassConstructor<object>, item: Record<string, unknown>): boolean {
  return validateSync(plainToInstance(cls, item), { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true }).length === 0;
}

const MISSING = Symbol('missing');
const TIME_STAMPS: unknown[] = [
  '2019-05-01T06:00:00-04:00',
  '2019-05-01T06:00:00.123456Z',
  '2019-05-01T06:00:00+05:30',
  '2019-05-01T06:00:00',
  '2019-05-01',
  '2019-02-30T06:00:00Z',
  'not a time',
  '',
  `2019-05-01T06:00:00.${'1'.repeat(20)}Z`,
  20190501,
  null,
  ['2019-05-01T06:00:00Z'],
  MISSING,
];
const DATA: unknown[] = [
  [0.37, 1, -2.5],
  [0],
  [MAX_ABS_VALUE, -MAX_ABS_VALUE],
  [MAX_ABS_VALUE * 10],
  [NaN],
  [1, Infinity],
  [-Infinity],
  ['1.5'],
  [null],
  [[1]],
  [true],
  [],
  { 0: 1 },
  'data',
  7,
  null,
  MISSING,
];
/** Members beside the DTO's own (as a parser makes them: `__proto__` an own member). */
const EXTRAS: Array<Record<string, unknown>> = [{}, { unit: 'C' }, { kind: 'measurement' }, { kind: 'sensor_reading' }, parseJson('{"__proto__":{"a":1}}').value as Record<string, unknown>, { constructor: 1 }];

function item(ts: unknown, data: unknown, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (ts !== MISSING) out['time_stamp'] = ts;
  if (data !== MISSING) out['data'] = data;
  for (const key of Object.keys(extra)) Object.defineProperty(out, key, { value: extra[key], enumerable: true, writable: true, configurable: true });
  return out;
}

const cases = TIME_STAMPS.flatMap((ts) => DATA.flatMap((data) => EXTRAS.map((extra) => item(ts, data, extra))));

describe(passesDirectCheck.name, () => {
  it.each([
    ['MeasurementDto', MeasurementDto],
    ['MeasurementLineDto', MeasurementLineDto],
  ])(`agrees with class-validator on ${cases.length} items as %s`, (_name, cls) => {
    // Never passes what class-validator refuses ...
    expect(cases.filter((c) => passesDirectCheck(cls, c) && !classValidatorPasses(cls, c))).toEqual([]);
    // ... and passes all it takes, but for members class-validator never sees (`__proto__`, `constructor`),
    // which it leaves to class-validator.
    const unseen = (c: Record<string, unknown>) => Object.hasOwn(c, '__proto__') || Object.hasOwn(c, 'constructor');
    expect(cases.filter((c) => !passesDirectCheck(cls, c) && classValidatorPasses(cls, c) && !unseen(c))).toEqual([]);
    // The corpus holds both answers for each DTO.
    expect(cases.filter((c) => passesDirectCheck(cls, c)).length).toBeGreaterThan(3);
    expect(cases.filter((c) => !passesDirectCheck(cls, c)).length).toBeGreaterThan(100);
  });

  it('holds the sample limit as ArrayMaxSize does', () => {
    const at = item('2019-05-01T06:00:00Z', new Array<number>(MEASUREMENT_MAX_SAMPLES).fill(1), {});
    const over = item('2019-05-01T06:00:00Z', new Array<number>(MEASUREMENT_MAX_SAMPLES + 1).fill(1), {});
    expect([passesDirectCheck(MeasurementDto, at), classValidatorPasses(MeasurementDto, at)]).toEqual([true, true]);
    expect([passesDirectCheck(MeasurementDto, over), classValidatorPasses(MeasurementDto, over)]).toEqual([false, false]);
  });

  it('leaves every other DTO to class-validator', () => {
    class Other {}
    expect(passesDirectCheck(Other, item('2019-05-01T06:00:00Z', [1], {}))).toBe(false);
  });

  it('lets validateItem and validateLine answer as before: nothing for a clean item, the problems for another', () => {
    expect(validateItem('measurement', item('2019-05-01T06:00:00Z', [1, 2], {}))).toEqual([]);
    expect(validateItem('measurement', item('2019-05-01T06:00:00Z', [1, NaN], {})).map((p) => [p.field, p.rule])).toEqual([['data[1]', 'not_a_number']]);
    expect(validateItem('measurement', item('2019-05-01T06:00:00Z', [1], { unit: 'C' })).map((p) => [p.field, p.rule])).toEqual([['unit', 'unknown_field']]);
    expect(validateLine(item('2019-05-01T06:00:00Z', [1], { kind: 'measurement' }))).toEqual({ kind: 'measurement', line: { time_stamp: '2019-05-01T06:00:00Z', data: [1], kind: 'measurement' } });
  });
});
