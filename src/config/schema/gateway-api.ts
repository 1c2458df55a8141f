/**
 * Gateway API (gateway.networking.k8s.io v1/v1beta1, standard channel) specs for GatewayClass, Gateway and
 * HTTPRoute, read from the CRDs `gatewayclasses`, `gateways` and `httproutes.gateway.networking.k8s.io`.
 * CRD defaults (e.g. `allowedRoutes.namespaces.from: Same`) are not filled in; consumers apply them.
 */
import { ipFamily } from '../../net/ip-syntax.ts';
import { arr, bool, int, map, obj, str, strings } from './dsl.ts';
import type { ObjectSchema } from './dsl.ts';
import { DNS_LABEL_PATTERN, DNS_SUBDOMAIN_PATTERN, GROUP_PATTERN, KIND_PATTERN } from './common.ts';

const CONTROLLER_NAME_PATTERN =
  "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\\/[A-Za-z0-9\\/\\-._~%!$&'()*+,;=:]+$";
const HOSTNAME_PATTERN = '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const PRECISE_HOSTNAME_PATTERN = DNS_SUBDOMAIN_PATTERN;
const HEADER_NAME_PATTERN = "^[A-Za-z0-9!#$%&'*+\\-.^_\\x60|~]+$";
const DURATION_PATTERN = '^([0-9]{1,5}(h|m|s|ms)){1,4}$';
const ADDRESS_TYPE_PATTERN =
  "^Hostname|IPAddress|NamedAddress|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\\/[A-Za-z0-9\\/\\-._~%!$&'()*+,;=:]+$";
const PROTOCOL_PATTERN =
  '^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\\/[A-Za-z0-9]+$';

const group = () => str({ maxLength: 253, pattern: GROUP_PATTERN });
const kind = () => str({ minLength: 1, maxLength: 63, pattern: KIND_PATTERN });
const objectName = () => str({ minLength: 1, maxLength: 253 });
const namespace = () => str({ minLength: 1, maxLength: 63, pattern: DNS_LABEL_PATTERN });
const portNumber = () => int({ minimum: 1, maximum: 65535 });
const sectionName = () => str({ minLength: 1, maxLength: 253, pattern: DNS_SUBDOMAIN_PATTERN });

/** The Gateway API's LabelSelector: `operator` is a plain string in these CRDs. */
const selectorSchema = obj({
  matchLabels: map(str()),
  matchExpressions: arr(
    obj({ key: str(), operator: str(), values: strings({ listType: 'atomic' }) }, { required: ['key', 'operator'] }),
    {
      listType: 'atomic',
    },
  ),
});

// ---------- GatewayClass ----------
export const gatewayClassSpec: ObjectSchema = obj(
  {
    controllerName: str({ minLength: 1, maxLength: 253, pattern: CONTROLLER_NAME_PATTERN }),
    parametersRef: obj(
      { group: group(), kind: kind(), name: objectName(), namespace: namespace() },
      { required: ['group', 'kind', 'name'] },
    ),
    description: str({ maxLength: 64 }),
  },
  { required: ['controllerName'] },
);

// ---------- Gateway ----------
const secretObjectReference = () =>
  obj({ group: group(), kind: kind(), name: objectName(), namespace: namespace() }, { required: ['name'] });

const caCertificateRefs = () =>
  arr(
    obj(
      { group: group(), kind: kind(), name: objectName(), namespace: namespace() },
      { required: ['group', 'kind', 'name'] },
    ),
    {
      minItems: 1,
      maxItems: 16,
      listType: 'atomic',
    },
  );

const frontendValidation = () =>
  obj(
    { caCertificateRefs: caCertificateRefs(), mode: str({ enum: ['AllowValidOnly', 'AllowInsecureFallback'] }) },
    { required: ['caCertificateRefs'] },
  );

const listenerSchema = obj(
  {
    name: str({ minLength: 1, maxLength: 253, pattern: DNS_SUBDOMAIN_PATTERN }),
    hostname: str({ minLength: 1, maxLength: 253, pattern: HOSTNAME_PATTERN }),
    port: portNumber(),
    protocol: str({ minLength: 1, maxLength: 255, pattern: PROTOCOL_PATTERN }),
    tls: obj({
      mode: str({ enum: ['Terminate', 'Passthrough'] }),
      certificateRefs: arr(secretObjectReference(), { maxItems: 64, listType: 'atomic' }),
      options: map(str({ minLength: 0, maxLength: 4096 }), { maxProperties: 16 }),
    }),
    allowedRoutes: obj({
      namespaces: obj({ from: str({ enum: ['All', 'Selector', 'Same'] }), selector: selectorSchema }),
      kinds: arr(obj({ group: group(), kind: kind() }, { required: ['kind'] }), { maxItems: 8, listType: 'atomic' }),
    }),
  },
  { required: ['name', 'port', 'protocol'] },
);

/** GatewaySpecAddress: the CRD's `oneOf` requires an IP when `type` is `IPAddress` (the default). */
function checkGatewayAddress(value: unknown): string | undefined {
  const a = value as { type?: unknown; value?: unknown };
  const type = a.type ?? 'IPAddress';
  if (type === 'IPAddress' && typeof a.value === 'string' && ipFamily(a.value) === 0) {
    return `value ${JSON.stringify(a.value)} must be an IPv4 or IPv6 address when type is IPAddress`;
  }
  return undefined;
}

export const gatewaySpec: ObjectSchema = obj(
  {
    gatewayClassName: str({ minLength: 1, maxLength: 253 }),
    listeners: arr(listenerSchema, { minItems: 1, maxItems: 64, listType: 'map', mapKeys: ['name'] }),
    addresses: arr(
      obj(
        { type: str({ minLength: 1, maxLength: 253, pattern: ADDRESS_TYPE_PATTERN }), value: str({ maxLength: 253 }) },
        { check: checkGatewayAddress },
      ),
      { maxItems: 16, listType: 'atomic' },
    ),
    infrastructure: obj({
      labels: map(str({ minLength: 0, maxLength: 63, pattern: '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$' }), {
        maxProperties: 8,
      }),
      annotations: map(str({ minLength: 0, maxLength: 4096 }), { maxProperties: 16 }),
      parametersRef: obj({ group: group(), kind: kind(), name: objectName() }, { required: ['group', 'kind', 'name'] }),
    }),
    allowedListeners: obj({
      namespaces: obj({ from: str({ enum: ['All', 'Selector', 'Same', 'None'] }), selector: selectorSchema }),
    }),
    tls: obj({
      backend: obj({ clientCertificateRef: secretObjectReference() }),
      frontend: obj(
        {
          default: obj({ validation: frontendValidation() }),
          perPort: arr(
            obj({ port: portNumber(), tls: obj({ validation: frontendValidation() }) }, { required: ['port', 'tls'] }),
            {
              maxItems: 64,
              listType: 'map',
              mapKeys: ['port'],
            },
          ),
        },
        { required: ['default'] },
      ),
    }),
  },
  { required: ['gatewayClassName', 'listeners'] },
);

// ---------- HTTPRoute ----------
const headerName = () => str({ minLength: 1, maxLength: 256, pattern: HEADER_NAME_PATTERN });

const headerModifier = () =>
  obj({
    set: arr(
      obj({ name: headerName(), value: str({ minLength: 1, maxLength: 4096 }) }, { required: ['name', 'value'] }),
      {
        maxItems: 16,
        listType: 'map',
        mapKeys: ['name'],
      },
    ),
    add: arr(
      obj({ name: headerName(), value: str({ minLength: 1, maxLength: 4096 }) }, { required: ['name', 'value'] }),
      {
        maxItems: 16,
        listType: 'map',
        mapKeys: ['name'],
      },
    ),
    remove: strings({ maxItems: 16, listType: 'set' }),
  });

const pathModifier = () =>
  obj(
    {
      type: str({ enum: ['ReplaceFullPath', 'ReplacePrefixMatch'] }),
      replaceFullPath: str({ maxLength: 1024 }),
      replacePrefixMatch: str({ maxLength: 1024 }),
    },
    { required: ['type'] },
  );

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

const filterSchema = obj(
  {
    type: str({
      enum: [
        'RequestHeaderModifier',
        'ResponseHeaderModifier',
        'RequestMirror',
        'RequestRedirect',
        'URLRewrite',
        'ExtensionRef',
        'CORS',
      ],
    }),
    requestHeaderModifier: headerModifier(),
    responseHeaderModifier: headerModifier(),
    requestMirror: obj(
      {
        backendRef: obj(
          { group: group(), kind: kind(), name: objectName(), namespace: namespace(), port: portNumber() },
          { required: ['name'] },
        ),
        percent: int({ minimum: 0, maximum: 100 }),
        fraction: obj(
          { numerator: int({ minimum: 0 }), denominator: int({ minimum: 1 }) },
          { required: ['numerator'] },
        ),
      },
      { required: ['backendRef'] },
    ),
    requestRedirect: obj({
      scheme: str({ enum: ['http', 'https'] }),
      hostname: str({ minLength: 1, maxLength: 253, pattern: PRECISE_HOSTNAME_PATTERN }),
      path: pathModifier(),
      port: portNumber(),
      statusCode: int({ enum: [301, 302, 303, 307, 308] }),
    }),
    urlRewrite: obj({
      hostname: str({ minLength: 1, maxLength: 253, pattern: PRECISE_HOSTNAME_PATTERN }),
      path: pathModifier(),
    }),
    cors: obj({
      allowOrigins: strings(
        { maxItems: 64, listType: 'set' },
        str({
          minLength: 1,
          maxLength: 253,
          pattern: '(^\\*$)|(^(http(s)?):\\/\\/(((\\*\\.)?([a-zA-Z0-9\\-]+\\.)*[a-zA-Z0-9-]+|\\*)(:([0-9]{1,5}))?)$)',
        }),
      ),
      allowCredentials: bool(),
      allowMethods: strings({ maxItems: 9, listType: 'set' }, str({ enum: [...METHODS, '*'] })),
      allowHeaders: strings({ maxItems: 64, listType: 'set' }, headerName()),
      exposeHeaders: strings({ maxItems: 64, listType: 'set' }, headerName()),
      maxAge: int({ minimum: 1 }),
    }),
    extensionRef: obj({ group: group(), kind: kind(), name: objectName() }, { required: ['group', 'kind', 'name'] }),
  },
  { required: ['type'] },
);

const filters = () => arr(filterSchema, { maxItems: 16, listType: 'atomic' });

const keyValueMatch = (maxValue: number) =>
  arr(
    obj(
      {
        type: str({ enum: ['Exact', 'RegularExpression'] }),
        name: headerName(),
        value: str({ minLength: 1, maxLength: maxValue }),
      },
      { required: ['name', 'value'] },
    ),
    { maxItems: 16, listType: 'map', mapKeys: ['name'] },
  );

const matchSchema = obj({
  path: obj({ type: str({ enum: ['Exact', 'PathPrefix', 'RegularExpression'] }), value: str({ maxLength: 1024 }) }),
  headers: keyValueMatch(4096),
  queryParams: keyValueMatch(1024),
  method: str({ enum: METHODS }),
});

const backendRefSchema = obj(
  {
    group: group(),
    kind: kind(),
    name: objectName(),
    namespace: namespace(),
    port: portNumber(),
    weight: int({ minimum: 0, maximum: 1000000 }),
    filters: filters(),
  },
  { required: ['name'] },
);

export const httpRouteSpec: ObjectSchema = obj({
  parentRefs: arr(
    obj(
      {
        group: group(),
        kind: kind(),
        namespace: namespace(),
        name: objectName(),
        sectionName: sectionName(),
        port: portNumber(),
      },
      { required: ['name'] },
    ),
    { maxItems: 32, listType: 'atomic' },
  ),
  hostnames: strings(
    { maxItems: 16, listType: 'atomic' },
    str({ minLength: 1, maxLength: 253, pattern: HOSTNAME_PATTERN }),
  ),
  rules: arr(
    obj({
      name: sectionName(),
      matches: arr(matchSchema, { maxItems: 64, listType: 'atomic' }),
      filters: filters(),
      backendRefs: arr(backendRefSchema, { maxItems: 16, listType: 'atomic' }),
      timeouts: obj({
        request: str({ pattern: DURATION_PATTERN }),
        backendRequest: str({ pattern: DURATION_PATTERN }),
      }),
    }),
    { minItems: 1, maxItems: 16, listType: 'atomic' },
  ),
});
