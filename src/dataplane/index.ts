/** The data plane's public surface: start a gateway in-process (what `portcullis serve` runs). */
export { startGateway, type GatewayOptions, type HostPort, type RunningGateway } from './gateway.ts';
