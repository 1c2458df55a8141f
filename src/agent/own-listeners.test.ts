/** OwnListeners: every spelling of an agent listener's address is recognised; other addresses and ports are not. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OwnListeners } from './own-listeners.ts';

const HOST_ADDRESSES = ['127.0.0.1', '::1', '10.1.2.3', 'fe80::1%eth0'];

test('a listener on 127.0.0.1 is reached by its IPv4-mapped, unspecified and hex spellings', () => {
  const own = new OwnListeners(() => HOST_ADDRESSES);
  own.add('127.0.0.1', 15001);
  for (const ip of [
    '127.0.0.1',
    '::ffff:127.0.0.1',
    '[::ffff:127.0.0.1]',
    '::ffff:7f00:1',
    '0:0:0:0:0:ffff:7f00:1',
    '0.0.0.0',
    '::',
  ]) {
    assert.equal(own.has(ip, 15001), true, ip);
  }
  // Another loopback address, another port, or a remote address is not this listener.
  assert.equal(own.has('127.0.0.2', 15001), false);
  assert.equal(own.has('127.0.0.1', 15002), false);
  assert.equal(own.has('198.51.100.7', 15001), false);
  assert.equal(own.has('::1', 15001), false);
});

test('a listener on a wildcard address is reached on every local address, and only there', () => {
  for (const wildcard of ['0.0.0.0', '::']) {
    const own = new OwnListeners(() => HOST_ADDRESSES);
    own.add(wildcard, 15001);
    for (const ip of [
      '127.0.0.1',
      '127.9.9.9',
      '::1',
      '0:0::1',
      '10.1.2.3',
      '::ffff:10.1.2.3',
      'fe80::1',
      '0.0.0.0',
      '::',
    ]) {
      assert.equal(own.has(ip, 15001), true, `${wildcard} / ${ip}`);
    }
    assert.equal(own.has('10.1.2.4', 15001), false, `${wildcard}: an address of another host`);
    assert.equal(own.has('198.51.100.7', 15001), false);
  }
});

test('an IPv6 listener matches its address however it is written; names and garbage never match', () => {
  const own = new OwnListeners(() => HOST_ADDRESSES);
  own.add('::1', 15001);
  assert.equal(own.has('0:0:0:0:0:0:0:1', 15001), true);
  assert.equal(own.has('[::1]', 15001), true);
  assert.equal(own.has('127.0.0.1', 15001), false);
  assert.equal(own.has('localhost', 15001), false, 'names are resolved before the check; a name is not an address');
  assert.equal(own.has('not an ip', 15001), false);
});
