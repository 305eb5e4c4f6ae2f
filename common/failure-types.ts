/** The types of the failures targets raise, which the workflow and the activities branch on. Pure: the workflow imports it. */
export const FailureType = {
  rateLimited: 'RateLimited',
  serverError: 'ServerError',
  unauthorized: 'Unauthorized',
  rejected: 'RequestRejected',
  /** The request may or may not have been applied (timeout, dropped connection). */
  unknownOutcome: 'UnknownOutcome',
  network: 'NetworkError',
  quotaExhausted: 'QuotaExhausted',
  /** Plainly misconfigured: refused connection, unknown host, bad TLS, wrong base URL, an answer that is not the API's. */
  misconfigured: 'TargetMisconfigured',
} as const;
