/**
 * Layer 5 of seed 000: the perimeter drops pod-CIDR egress and lets out only the node (SNAT) addresses ztunnel
 * uses. Nothing in Kubernetes shows it, so the settings may declare it; undeclared, it is reported unverified.
 */
import type { ClusterModel } from './cluster-model.ts';
import type { Finding, ResourceRef } from './finding.ts';
import { yamlFix } from './fix-yaml.ts';
import { intersect, isEmpty, setOf } from './ip-ranges.ts';
import type { LayerAudit } from './layer-audit.ts';
import { settingsLocation } from './unknown-destinations.ts';

const PERIMETER_REF: ResourceRef = { kind: 'Settings', namespace: '', name: 'perimeter' };

const PERIMETER_EXAMPLE = {
  perimeter: { podCidrs: ['10.244.0.0/16'], podEgressDropped: true, snatAddresses: ['192.0.2.10/32', '192.0.2.11/32'] },
};

export function auditPerimeter(model: ClusterModel): LayerAudit {
  const findings: Finding[] = [];
  const p = model.settings.perimeter;
  const location = settingsLocation(model.settings, 'perimeter');
  const fix = yamlFix(
    [
      'portcullis.yaml: declare the perimeter once it is in place at the VPC / security group / firewall:',
      'outbound from the pod CIDRs dropped, outbound allowed only from the node addresses ztunnel SNATs to.',
    ],
    PERIMETER_EXAMPLE,
  );
  let open = false;
  const add = (code: Finding['code'], severity: Finding['severity'], message: string): void => {
    findings.push({ code, layer: 5, severity, resource: PERIMETER_REF, message, fix, location });
  };
  if (p === undefined) {
    open = true;
    add(
      'PCL_AUDIT_PERIMETER_UNVERIFIED',
      'warning',
      'the perimeter (pod-CIDR egress dropped at the cloud network, only the SNAT addresses allowed out) cannot be seen from Kubernetes and is not declared in the settings: unverified',
    );
  } else {
    if (p.podEgressDropped !== true) {
      open = true;
      add(
        'PCL_AUDIT_PERIMETER_OPEN',
        'error',
        'the declared perimeter does not drop egress from the pod CIDRs (perimeter.podEgressDropped is not true): if an in-cluster control fails, pod traffic reaches the internet',
      );
    }
    const pods = p.podCidrs ?? [];
    const snat = p.snatAddresses ?? [];
    if (pods.length === 0)
      add(
        'PCL_AUDIT_PERIMETER_INCOMPLETE',
        'warning',
        'the declared perimeter does not name the pod CIDRs whose egress is dropped (perimeter.podCidrs)',
      );
    if (snat.length === 0)
      add(
        'PCL_AUDIT_PERIMETER_INCOMPLETE',
        'warning',
        'the declared perimeter does not name the SNAT addresses allowed out (perimeter.snatAddresses)',
      );
    const podSet = setOf(pods);
    const inside = snat.filter((s) => !isEmpty(intersect(setOf([s]), podSet)));
    if (inside.length > 0) {
      open = true;
      add(
        'PCL_AUDIT_PERIMETER_INCOMPLETE',
        'error',
        `SNAT addresses ${inside.join(', ')} lie inside the pod CIDRs: allowing them out lets pod traffic out`,
      );
    }
  }
  return { findings, open: () => open };
}
