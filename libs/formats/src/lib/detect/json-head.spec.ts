import { topLevelKeys } from './json-keys.util';
import { isJsonText } from './json-text.util';

describe('topLevelKeys', () => {
  it.each([
    ['{"a":1,"b":{"c":2},"d":[{"e":3}]}', ['a', 'b', 'd']],
    [' \n\t{"a":1,"a":2}', ['a', 'a']],
    ['{"k":"v,w","z":0}', ['k', 'z']],
    ['{"x\\"y":1,"q":"\\\\"}', ['xy', 'q']],
    ['{"a":"cut off', ['a']],
    ['{"a":[1,2,{"b":', ['a']],
    ['{}', []],
  ])('%j has the keys %j', (text, keys) => {
    expect(topLevelKeys(text)).toEqual(keys);
  });

  it.each(['[{"a":1}]', '"a"', '12', 'a,b,c'])('%j is no object', (text) => {
    expect(topLevelKeys(text)).toBeNull();
  });
});

describe('isJsonText', () => {
  it.each([
    ['{"a":[1,2,3]}', true, true],
    ['{"a":NaN,"b":-Infinity}', true, true],
    ['{"a":1} and then words', true, true],
    [`${'['.repeat(100)}${']'.repeat(100)}`, true, true],
    ['{"a":[1,2', false, true],
    ['{"a":[1,2', true, true],
    ['{user} logged in', true, false],
    ['[1] first entry', true, false],
    ['[2024-07-21T14:30:00Z] error', false, false],
  ])('%j (whole: %s) is JSON: %s', (text, complete, json) => {
    expect(isJsonText(text, complete)).toBe(json);
  });
});
