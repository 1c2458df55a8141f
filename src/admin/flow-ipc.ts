/**
 * The flow map over IPC (`serve --workers`): a worker's feed sends its batches and status to the primary, whose hub
 * aggregates every worker. Messages are plain JSON; the primary checks their shape before using them.
 */
import type { ObservedFlow } from '../learn/observed-flow.ts';
import type { FlowSink, GatewayStatusView } from './flow-feed.ts';

const FLOWS = 'portcullis:flows';
const STATUS = 'portcullis:flow-status';

export type FlowMessage =
  | { readonly type: typeof FLOWS; readonly flows: readonly ObservedFlow[]; readonly dropped: number }
  | { readonly type: typeof STATUS; readonly status: GatewayStatusView };

export function isFlowMessage(m: unknown): m is FlowMessage {
  if (typeof m !== 'object' || m === null) return false;
  const x = m as Record<string, unknown>;
  if (x.type === FLOWS) return Array.isArray(x.flows) && typeof x.dropped === 'number';
  return x.type === STATUS && typeof x.status === 'object' && x.status !== null;
}

/**
 * The sink a worker's feed reports to: each batch and status change is one message to the primary. `send` must drop
 * messages once the channel is closed (a worker draining after `disconnect`), or Node raises an uncaught error.
 */
export function workerFlowSink(send: (m: FlowMessage) => unknown): FlowSink {
  return {
    flows: (batch, dropped) => send({ type: FLOWS, flows: batch, dropped }),
    status: (status) => send({ type: STATUS, status }),
  };
}

/** Apply one worker's message to a sink (the primary's hub, keyed by worker). */
export function applyFlowMessage(sink: FlowSink, m: FlowMessage): void {
  if (m.type === FLOWS) sink.flows(m.flows, m.dropped);
  else sink.status(m.status);
}
