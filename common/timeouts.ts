/**
 * The timeouts that must agree with each other, in one place (pure constants: the workflow imports them).
 *
 *  - HEARTBEAT_INTERVAL_MS < HEARTBEAT_TIMEOUT_MS: a request in flight (upload included) beats every interval,
 *    so an attempt that is alive is never taken for dead and its chunk sent a second time beside it. Temporal
 *    throttles heartbeats to 80 % of the timeout, so the interval stays well below that.
 *  - DEFAULT_HTTP_TIMEOUT_MS < SUBMIT_START_TO_CLOSE_MS: a request that never answers ends in our own timeout
 *    (an unknown outcome the activity handles and carries to its next attempt), not in Temporal's, which
 *    would abandon the attempt mid-request with the request possibly still being applied. A Propeller chunk is up to
 *    4 requests, each sent up to 3 times while its answers never come: 12 HTTP timeouts (24 min) fit in one attempt.
 *  - VOUCHERIFY_LOOKUP_WINDOW_MS >= DEFAULT_HTTP_TIMEOUT_MS: an earlier attempt's action was created at most one
 *    HTTP timeout after it was sent, so the lookup of an earlier action covers the whole time it could appear.
 * test/timeouts.test.ts reads these values and the workflow's activity options and checks the relations.
 */
export const HEARTBEAT_TIMEOUT_MS = 30_000;
export const HEARTBEAT_INTERVAL_MS = 5_000;
/** Per-request HTTP timeout unless VOUCHERIFY_TIMEOUT_MS / PROPELLER_TIMEOUT_MS say otherwise. */
export const DEFAULT_HTTP_TIMEOUT_MS = 120_000;
export const SUBMIT_START_TO_CLOSE_MS = 30 * 60_000;
/**
 * Attempts of the stage activity (the workflow's retry policy). The activity must know which attempt is its last: only
 * then may it seal what it staged before the source broke (a partial last chunk, its counts), since no later attempt
 * will cut the same records into chunks again, differently.
 */
export const STAGE_ATTEMPTS = 5;
