/** The shape every fence-layer module returns: its findings, and whether a given pod can get past that layer. */
import type { PodSubject } from './cluster-model.ts';
import type { Finding } from './finding.ts';

export interface LayerAudit {
  readonly findings: Finding[];
  /** True when this layer does not hold for the pod (the reachability table's `bypass`). */
  open(pod: PodSubject): boolean;
}
