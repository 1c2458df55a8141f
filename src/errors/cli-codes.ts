/** Error codes owned by the command line. Codes are stable: never rename one, only add. */
import { defineCodes } from './define.ts';

export const cliCodes = defineCodes({
  PCL_CLI_USAGE: {
    summary: 'The command line is malformed: an unknown flag, a missing value or a missing required flag.',
    fix: "Run 'portcullis <command> --help' for the flags each command takes.",
  },
  PCL_CLI_BAD_VALUE: {
    summary: 'A flag has a value of the wrong form (an identity, an address, a port, a duration).',
    fix: "Correct the value as the message says; 'portcullis <command> --help' shows each flag's form with an example.",
  },
  PCL_CLI_CONFIG_MISSING: {
    summary: 'The --config folder or file (or --settings file, or --cases file) does not exist or cannot be read.',
    fix: 'Point --config at a folder of Kubernetes manifests or one manifest file (for example examples/quickstart).',
  },
  PCL_CLI_UNKNOWN_DESTINATION: {
    summary: 'The destination host is declared by no ServiceEntry bound to a gateway.',
    fix: 'Declare it with a ServiceEntry labelled istio.io/use-waypoint, or give an IP address to test egressPolicies.',
  },
  PCL_CLI_CASE_FAILED: {
    summary: 'A policy test case in a --cases file did not get the expected decision.',
    fix: 'Read the case output: it names the layer and policy that decided. Fix the policy or the expectation.',
  },
  PCL_CLI_CONFIG_EMPTY: {
    summary: 'A warning: --config holds no manifests, so every connection is denied (default-deny).',
    fix: 'Point --config at the folder or file that holds your ServiceEntry, Gateway and policy manifests.',
  },
  PCL_CLI_LISTEN_FAILED: {
    summary: 'A listening socket could not be opened: the address is in use, not on this machine, or needs privileges.',
    fix: 'Stop the process that holds the port, or choose another address with the flag the message names.',
  },
});
