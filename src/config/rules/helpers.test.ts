/** The small parsers the rules share: IP/CIDR (Go netip strictness), DNS names (Istio), Go durations (CEL). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkIpOrCidr, checkIpSubnet, isCidr, isIpAddress } from '../../net/ip-syntax.ts';
import { checkFqdn, checkWildcardDomain, isDns1123Label, isPartialWildcard } from './dns-name.ts';
import { parseDuration } from './duration.ts';

describe('ip-address', () => {
  it('accepts addresses and prefixes Go netip accepts', () => {
    for (const a of ['1.2.3.4', '001:db8::', '::', 'fe80::1%eth0']) assert.ok(isIpAddress(a), a);
    for (const c of ['0.0.0.0/0', '::/0', '10.1.2.3/8', '2001:db8::/128']) assert.ok(isCidr(c), c);
  });
  it('rejects what Go netip rejects', () => {
    for (const a of ['010.1.1.1', '1.2.3', '1.2.3.4.5', 'host', '']) assert.ok(!isIpAddress(a), a);
    for (const c of ['1.2.3.4/33', '::/129', '1.2.3.4/08', '1.2.3.4/', 'fe80::1%eth0/64', '1.2.3.4/8/8'])
      assert.ok(!isCidr(c), c);
  });
  it('words errors as Istio does', () => {
    assert.equal(checkIpOrCidr('10.0.0.0/99'), 'bad CIDR range (10.0.0.0/99)');
    assert.equal(checkIpOrCidr('x'), 'bad IP address (x)');
    assert.equal(checkIpSubnet('1.2.3.4/99'), '1.2.3.4/99 is not a valid CIDR block');
    assert.equal(checkIpSubnet('nope'), 'nope is not a valid IP');
    assert.equal(checkIpOrCidr('::1'), undefined);
  });
});

describe('dns-name', () => {
  it('checks DNS-1123 labels', () => {
    assert.ok(isDns1123Label('Http-1'));
    assert.ok(!isDns1123Label('-a'));
    assert.ok(!isDns1123Label('a'.repeat(64)));
  });
  it('checks FQDNs and wildcard domains', () => {
    assert.equal(checkFqdn('a.example.com'), undefined);
    assert.equal(checkFqdn('a.example.com.'), undefined);
    assert.match(checkFqdn('*.example.com') ?? '', /label "\*" invalid/);
    assert.match(checkFqdn('a.b.123') ?? '', /cannot be all-numeric/);
    assert.equal(checkFqdn(''), 'empty domain name not allowed');
    assert.equal(checkWildcardDomain('*.example.com'), undefined);
    assert.equal(checkWildcardDomain('*x'), undefined);
    assert.equal(checkWildcardDomain('*-x.example.com'), undefined);
    assert.match(checkWildcardDomain('a.*.com') ?? '', /label "\*" invalid/);
    assert.match(checkWildcardDomain('x*.com') ?? '', /label "x\*" invalid/);
  });
  it('spots partial wildcards', () => {
    assert.ok(isPartialWildcard('*x'));
    assert.ok(!isPartialWildcard('*.x.com'));
    assert.ok(!isPartialWildcard('*'));
  });
});

describe('duration', () => {
  it('parses Go durations', () => {
    assert.equal(parseDuration('300s'), 300e9);
    assert.equal(parseDuration('1h30m'), 5400e9);
    assert.equal(parseDuration('1.5ms'), 1.5e6);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('-1s'), -1e9);
  });
  it('rejects what Go rejects', () => {
    for (const d of ['', '10', 's', '1x', '1h 2m', '.s']) assert.equal(parseDuration(d), undefined, d);
  });
});
