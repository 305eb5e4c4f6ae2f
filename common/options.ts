/**
 * The import options every target shares: windowing, polling, retry rounds, history bounds. Each target's manifest
 * extends them with its own. The descriptions are the CLI's help: `bulkport import` makes its flags from these schemas.
 */
import { z } from 'zod';

export const commonOptions = {
  maxItemsPerChunk: z.number().int().positive().optional().describe("products per chunk at most, on top of the target's own limit"),
  concurrency: z
    .number()
    .int()
    .min(1)
    .default(4)
    .describe(
      'chunks in flight at once, or the ceiling an adaptive window stays under; change it while running with `bulkport concurrency`',
    ),
  maxConcurrency: z.number().int().min(1).default(32).describe('the most `bulkport concurrency` may set'),
  pollIntervalMs: z
    .number()
    .int()
    .min(50)
    .default(2000)
    .describe('first delay between polls of an asynchronous action (ms); it backs off while the action waits'),
  pollGiveUpMs: z
    .number()
    .int()
    .min(1000)
    .default(600_000)
    .describe('polls that fail (5xx, no answer) this long in a row (ms) hand their chunk to a retry round'),
  retryRounds: z.number().int().min(0).max(20).default(3).describe('rounds that resubmit products whose failure may pass (0: none)'),
  retryBackoffMs: z.number().int().min(0).default(5000).describe('pause before retry round n: this times 2^(n-1) (ms)'),
  chunksPerRun: z.number().int().min(1).default(500).describe('chunks per workflow run before it continues as new'),
  skipUnchanged: z
    .boolean()
    .default(false)
    .describe(
      'delta sync: send only products whose content differs from what the target confirmed last time (a ledger per account); the rest are reported unchanged',
    ),
  full: z.boolean().default(false).describe('with delta sync: send every product this time (the ledger is still updated)'),
  maxSubmitsPerMinute: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .optional()
    .describe("chunk submissions per minute at most, below the plan's quota, to leave room for your shop"),
};
