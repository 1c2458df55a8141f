/**
 * The refusal headers every part of Portcullis answers with (the HBONE server, the L4 data plane, the L7 waypoint and
 * the agent) and the one sanitiser for their values: one line of visible ASCII, at most 1,024 characters.
 */

/** `<code>: <reason>` on HBONE refusals (ztunnel sends none; the agent reads it); the reason on L7 and agent ones. */
export const REASON_HEADER = 'x-portcullis-reason';
/** The catalogue code of an L7 or agent refusal. */
export const CODE_HEADER = 'x-portcullis-code';
/** Long enough for every reason the gateway writes (a layer, a policy, a rule), far below any header-size limit. */
export const MAX_REASON_CHARS = 1024;

/** A header value safe to send: each run of CR, LF or anything outside visible ASCII becomes one space, bounded. */
export function headerSafe(text: string): string {
  return text
    .replace(/[^\x20-\x7e]+/g, ' ')
    .trim()
    .slice(0, MAX_REASON_CHARS);
}

/** The `x-portcullis-reason` value of an HBONE refusal: `<code>: <reason>`, sanitised. */
export function codedReason(code: string, reason: string): string {
  return headerSafe(`${code}: ${reason}`);
}
