/**
 * V8 tuning for the long-running gateway process (`portcullis serve`, primary and workers): allocation-site
 * pretenuring off. V8 pretenures an allocation site (allocates its objects straight in the old generation) once most
 * of its objects survived a scavenge; a proxy's per-request objects do survive one when requests are slow for a
 * moment (start-up, a busy machine), and a pretenured request object that dies still keeps every young object it
 * points to alive until the next full GC. On the L7 waypoint this fed itself: every request's whole object graph
 * (parser, request, response, listeners) was promoted, ~2 MB per scavenge, 4-15 ms scavenge pauses instead of ~1.5 ms,
 * and the GC threads used about as much CPU again as the requests (bench `--only l7`, `PORTCULLIS_BENCH_GC=serve`).
 */
import { setFlagsFromString } from 'node:v8';

let tuned = false;

/** Turn pretenuring off for this process (once; V8 reads the flag at every GC, so it applies from here on). */
export function tuneGatewayHeap(): void {
  if (tuned) return;
  tuned = true;
  setFlagsFromString('--no-allocation-site-pretenuring');
}
