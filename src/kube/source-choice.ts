/**
 * Which source a command reads (`--config PATH` or `--kube`), decided from the flags alone. Kept apart from the
 * Kubernetes client so a command given `--config` never loads `@kubernetes/client-node` (start-up time).
 */
import { PortcullisError } from '../errors/portcullis-error.ts';

/** Usage text of the source flags (`--kube` and, for `serve`, the status and Lease flags). */
export const KUBE_USAGE = '(--config DIR | --kube [--kubeconfig FILE])';
export const KUBE_SERVE_USAGE =
  '       [--lease-namespace NS (default $POD_NAMESPACE)] [--lease-duration 15s] [--publish-address IP | --publish-service NS/NAME]\n' +
  '       [--controller-name NAME (default: controllerName in portcullis.yaml, else portcullis.dev/gateway-controller)]';

/** Exactly one of `--config DIR` and `--kube`; returns whether it is --kube. */
export function chooseSource(
  command: string,
  usage: string,
  flags: { config?: string; kube?: boolean; kubeconfig?: string },
): boolean {
  const kube = flags.kube === true;
  if (!kube && flags.config === undefined) {
    throw new PortcullisError(
      'PCL_CLI_USAGE',
      `portcullis ${command}: --config is required (or --kube to read the Kubernetes API)\n\nUsage: ${usage}`,
    );
  }
  if (kube && flags.config !== undefined) {
    throw new PortcullisError(
      'PCL_CLI_USAGE',
      `portcullis ${command}: give exactly one of --config DIR and --kube\n\nUsage: ${usage}`,
    );
  }
  if (!kube && flags.kubeconfig !== undefined)
    throw new PortcullisError(
      'PCL_CLI_USAGE',
      `portcullis ${command}: --kubeconfig goes with --kube\n\nUsage: ${usage}`,
    );
  return kube;
}
