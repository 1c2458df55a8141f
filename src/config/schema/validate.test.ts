/** The schema DSL validator: each constraint, Kubernetes wording, and did-you-mean. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arr, bool, int, intOrStr, map, num, obj, str, strings } from './dsl.ts';
import { validateSchema } from './validate.ts';
import { didYouMean, editDistance } from '../did-you-mean.ts';

const render = (issues: ReturnType<typeof validateSchema>) =>
  issues.map((i) => `${i.kind} ${i.path.map(String).join('.')}: ${i.message}`);

test('objects: required, unknown with suggestion, exclusive groups, open objects', () => {
  const s = obj(
    { principals: strings(), simple: str(), hash: obj({}) },
    { required: ['principals'], exclusive: [['simple', 'hash']] },
  );
  assert.deepEqual(render(validateSchema(s, { princpals: [], simple: 'x', hash: {} }, ['spec'])), [
    'unknown spec.princpals: Unknown field; did you mean "principals"?',
    'required spec.principals: Required value',
    'exclusive spec: Invalid value: "object": only one of "simple", "hash" may be set, found "simple" and "hash"',
  ]);
  assert.deepEqual(validateSchema(obj({ a: str() }, { open: true }), { a: 'x', anything: { deep: 1 } }), []);
});

test('scalars: types, enums, ranges, lengths, patterns, nullable', () => {
  assert.deepEqual(render(validateSchema(str({ enum: ['A', 'B'] }), 'C')), [
    'enum : Unsupported value: "C": supported values: "A", "B"',
  ]);
  assert.deepEqual(render(validateSchema(int({ minimum: 1, maximum: 9 }), 10)), [
    'range : Invalid value: 10: should be less than or equal to 9',
  ]);
  assert.deepEqual(render(validateSchema(int({ minimum: 1 }), 0)), [
    'range : Invalid value: 0: should be greater than or equal to 1',
  ]);
  assert.deepEqual(render(validateSchema(int(), 1.5)), ['type : Invalid value: 1.5: must be of type integer']);
  assert.deepEqual(validateSchema(num({ maximum: 100 }), 99.5), []);
  assert.deepEqual(render(validateSchema(str({ maxLength: 3 }), 'abcd')), [
    'size : Too long: may not be longer than 3',
  ]);
  assert.deepEqual(render(validateSchema(str({ pattern: '^[a-z]+$' }), 'A1')), [
    'pattern : Invalid value: "A1": should match \'^[a-z]+$\'',
  ]);
  assert.deepEqual(render(validateSchema(str(), 80)), [
    'type : Invalid value: 80: must be of type string; quote it: "80"',
  ]);
  assert.deepEqual(render(validateSchema(bool(), 'yes')), ['type : Invalid value: "yes": must be of type boolean']);
  assert.deepEqual(validateSchema(bool({ nullable: true }), null), []);
  assert.deepEqual(render(validateSchema(bool(), null)), ['type : Invalid value: "null": must be of type boolean']);
  assert.deepEqual(validateSchema(intOrStr(), 'http'), []);
  assert.deepEqual(validateSchema(intOrStr(), 8080), []);
});

test('lists: sizes, set and map list types report the later duplicate', () => {
  assert.deepEqual(render(validateSchema(strings({ maxItems: 1 }), ['a', 'b'])), [
    'size : Too many: 2: must have at most 1 items',
  ]);
  assert.deepEqual(render(validateSchema(strings({ listType: 'set' }), ['a', 'b', 'a'])), [
    'duplicate 2: Duplicate value: "a"',
  ]);
  const ports = arr(obj({ name: str(), number: int() }), { listType: 'map', mapKeys: ['name'] });
  assert.deepEqual(
    render(
      validateSchema(ports, [
        { name: 'a', number: 1 },
        { name: 'a', number: 2 },
      ]),
    ),
    ['duplicate 1: Duplicate value: {"name":"a"}'],
  );
});

test('maps: value types, key checks and maxProperties', () => {
  const m = map(str(), { maxProperties: 1, keyCheck: (k) => (String(k).includes(' ') ? 'no spaces' : undefined) });
  assert.deepEqual(render(validateSchema(m, { 'a b': 'x', c: 1 })), [
    'pattern a b: Invalid value: "a b": no spaces',
    'type c: Invalid value: 1: must be of type string; quote it: "1"',
    'size : Too many: 2: must have at most 1 items',
  ]);
});

test('custom checks run only on well-typed values', () => {
  const s = str({ check: (v) => (v === 'bad' ? 'is bad' : undefined) });
  assert.deepEqual(render(validateSchema(s, 'bad')), ['pattern : Invalid value: "bad": is bad']);
  assert.deepEqual(render(validateSchema(s, 3)).length, 1);
});

test('did-you-mean: typos within a third of the name, case-only differences, nothing for far-off names', () => {
  assert.equal(editDistance('princpals', 'principals'), 1);
  assert.equal(editDistance('hsots', 'hosts'), 1, 'a transposition costs 1');
  assert.equal(didYouMean('princpals', ['principals', 'notPrincipals']), 'principals');
  assert.equal(didYouMean('TLS', ['tls', 'tunnel']), 'tls');
  assert.equal(didYouMean('bogusSetting', ['hosts', 'ports']), undefined);
});
