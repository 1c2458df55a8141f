/** Error codes owned by learn mode and `portcullis suggest`. Codes are stable: never rename one, only add. */
import { defineCodes } from './define.ts';

export const learnCodes = defineCodes({
  PCL_LEARN_WOULD_DENY: {
    summary:
      'Learn mode: a policy (AuthorizationPolicy layer or egressPolicies) would have denied this connection, and it was allowed because the gateway runs with `learn: true` (dry-run for the whole gateway).',
    fix: 'Run `portcullis suggest --from-log ACCESS_LOG` to turn the observed flows into policy, review and apply it, then remove `learn: true` to enforce.',
  },
  PCL_SUGGEST_BAD_LOG: {
    summary:
      '`portcullis suggest` could not use an access-log line or an admin answer (not JSON, or missing a field it needs).',
    fix: 'Give it the JSON access log `portcullis serve --log-file` writes (one object per line), or the admin URL of a running gateway.',
  },
  PCL_SUGGEST_NOT_ALLOWED: {
    summary:
      'An observed flow that `portcullis suggest` will not turn into policy (a private or gateway address, a host known only by its IP, or a flow the gateway denied in enforce mode).',
    fix: 'Declare in-mesh services as mesh services, give external hosts names, or run the gateway with `learn: true` to observe flows without enforcing.',
  },
});
