/**
 * Gateway (gateway.networking.k8s.io/v1) semantics: the CRD's CEL rules on listeners, addresses,
 * infrastructure labels/annotations and frontend TLS. Defaults the API server applies before CEL runs
 * (address `type: IPAddress`, listener `tls.mode: Terminate`) are applied here the same way.
 */
import type { FieldPath } from '../types.ts';
import type { RuleContext, SemanticRule } from './rule-context.ts';
import { asList, asNumber, asObject, asString, has, listLength, type Data } from './data-access.ts';
import { celInvalid } from './messages.ts';

const HOSTNAME_PATTERN = '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const HOSTNAME = new RegExp(HOSTNAME_PATTERN);
const KEY_PATTERN =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$/;

export const gatewayRule: SemanticRule = (doc, ctx) => {
  const spec = asObject(doc.spec);
  if (spec !== undefined) {
    checkListeners(asList(spec.listeners) ?? [], ctx);
    checkAddresses(asList(spec.addresses), ['spec', 'addresses'], false, ctx);
    checkInfrastructure(asObject(spec.infrastructure), ctx);
    checkFrontendTls(spec, ctx);
  }
  checkAddresses(asList(asObject(doc.status)?.addresses), ['status', 'addresses'], true, ctx);
};

function checkListeners(listeners: readonly unknown[], ctx: RuleContext): void {
  const code = 'PCL_VALIDATION_GATEWAY_LISTENER';
  const path = ['spec', 'listeners'];
  const all = listeners.map((l) => asObject(l) ?? {});
  const protocol = (l: Data) => asString(l.protocol) ?? '';
  const tlsMode = (l: Data) => asString(asObject(l.tls)?.mode) ?? 'Terminate';
  const fail = (message: string) => ctx.error(path, code, celInvalid('array', message));

  if (all.some((l) => ['HTTP', 'TCP', 'UDP'].includes(protocol(l)) && has(l, 'tls'))) {
    fail("tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']");
  }
  if (all.some((l) => protocol(l) === 'HTTPS' && has(l, 'tls') && tlsMode(l) !== '' && tlsMode(l) !== 'Terminate')) {
    fail('tls mode must be Terminate for protocol HTTPS');
  }
  if (
    all.some(
      (l) => protocol(l) === 'TLS' && !(has(l, 'tls') && (asString(asObject(l.tls)?.mode) ?? 'Terminate') !== ''),
    )
  ) {
    fail('tls mode must be set for protocol TLS');
  }
  if (all.some((l) => ['TCP', 'UDP'].includes(protocol(l)) && (asString(l.hostname) ?? '') !== '')) {
    fail("hostname must not be specified for protocols ['TCP', 'UDP']");
  }
  const names = all.map((l) => asString(l.name));
  if (names.some((n, i) => names.indexOf(n) !== i)) fail('Listener name must be unique within the Gateway');
  const combos = all.map(
    (l) => `${asNumber(l.port)}|${protocol(l)}|${has(l, 'hostname') ? `=${asString(l.hostname)}` : '-'}`,
  );
  if (combos.some((c, i) => combos.indexOf(c) !== i))
    fail('Combination of port, protocol and hostname must be unique for each listener');

  all.forEach((listener, i) => {
    const tls = asObject(listener.tls);
    if (tls === undefined) return;
    if (
      tlsMode(listener) === 'Terminate' &&
      listLength(tls.certificateRefs) === 0 &&
      Object.keys(asObject(tls.options) ?? {}).length === 0
    ) {
      ctx.error(
        [...path, i, 'tls'],
        code,
        celInvalid('object', 'certificateRefs or options must be specified when mode is Terminate'),
      );
    }
  });
}

function checkAddresses(
  addresses: readonly unknown[] | undefined,
  path: FieldPath,
  isStatus: boolean,
  ctx: RuleContext,
): void {
  if (addresses === undefined) return;
  const code = 'PCL_VALIDATION_GATEWAY_ADDRESS';
  const all = addresses.map((a) => asObject(a) ?? {});
  const type = (a: Data) => asString(a.type) ?? 'IPAddress';
  if (!isStatus) {
    for (const t of ['IPAddress', 'Hostname']) {
      const values = all.filter((a) => type(a) === t && has(a, 'value')).map((a) => asString(a.value));
      if (values.some((v, i) => values.indexOf(v) !== i))
        ctx.error(path, code, celInvalid('array', `${t} values must be unique`));
    }
  }
  all.forEach((address, i) => {
    const value = asString(address.value);
    if (type(address) !== 'Hostname' || value === undefined || HOSTNAME.test(value)) return;
    const message = isStatus
      ? `Hostname value must only contain valid characters (matching ${HOSTNAME_PATTERN})`
      : `Hostname value must be empty or contain only valid characters (matching ${HOSTNAME_PATTERN})`;
    ctx.error([...path, i], code, celInvalid('object', message));
  });
}

function checkInfrastructure(infrastructure: Data | undefined, ctx: RuleContext): void {
  if (infrastructure === undefined) return;
  const code = 'PCL_VALIDATION_GATEWAY_ADDRESS';
  for (const [field, noun] of [
    ['labels', 'Label'],
    ['annotations', 'Annotation'],
  ] as const) {
    const map = asObject(infrastructure[field]);
    if (map === undefined) continue;
    const path = ['spec', 'infrastructure', field];
    const keys = Object.keys(map);
    if (!keys.every((k) => KEY_PATTERN.test(k))) {
      ctx.error(
        path,
        code,
        celInvalid(
          'object',
          `${noun} keys must be in the form of an optional DNS subdomain prefix followed by a required name segment of up to 63 characters.`,
        ),
      );
    }
    if (!keys.every((k) => k.split('/')[0].length < 253)) {
      ctx.error(
        path,
        code,
        celInvalid(
          'object',
          `If specified, the ${noun.toLowerCase()} key's prefix must be a DNS subdomain not longer than 253 characters in total.`,
        ),
      );
    }
  }
}

function checkFrontendTls(spec: Data, ctx: RuleContext): void {
  const perPort = asList(asObject(asObject(spec.tls)?.frontend)?.perPort);
  if (perPort === undefined) return;
  const ports = perPort.map((p) => asNumber(asObject(p)?.port));
  if (ports.some((p, i) => ports.indexOf(p) !== i)) {
    ctx.error(
      ['spec', 'tls', 'frontend', 'perPort'],
      'PCL_VALIDATION_GATEWAY_LISTENER',
      celInvalid('array', 'Port for TLS configuration must be unique within the Gateway'),
    );
  }
}
