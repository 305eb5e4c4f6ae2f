/** Propeller as the workflow and the CLI know it: options, directives, and synchronous answers the window adapts to. */
import { z } from 'zod';
import { commonOptions } from '../../common/options';
import { defineManifest } from '../manifest';

/** Products per bulk request, at most. */
export const PROPELLER_MAX_PRODUCTS = 2000;

/**
 * Requests a chunk holds by default, and at most: sent one after another by one activity, as each activity (and its
 * workflow task) costs Temporal's server and the worker about as much CPU as a request costs the target
 * (bench/README.md, 2026-12-06). At most, so that all of them, resends included, fit in one attempt (common/timeouts.ts).
 */
export const PROPELLER_REQUESTS_PER_CHUNK = 4;

/** Products per request: `chunkSize`, within Propeller's limit and a `maxItemsPerChunk` under it. */
export function propellerRequestSize(options: { chunkSize: number; maxItemsPerChunk?: number | undefined }): number {
  return Math.min(options.chunkSize, options.maxItemsPerChunk ?? PROPELLER_MAX_PRODUCTS, PROPELLER_MAX_PRODUCTS);
}

export const PropellerDirectives = z.object({
  skipIfNotEmpty: z
    .array(z.string().min(1))
    .optional()
    .describe('directive: fields kept on update when they already have a value (comma-separated)'),
  skipMoveOnUpdate: z.boolean().optional().describe("directive: don't move an updated product to the parent category given"),
  mergeTranslationsOnUpdate: z.boolean().optional().describe("directive: delete translations the payload doesn't carry"),
});
export type PropellerDirectives = z.infer<typeof PropellerDirectives>;

export const PropellerOptions = z.object({
  ...commonOptions,
  concurrency: z
    .number()
    .int()
    .min(1)
    .default(16)
    .describe('the ceiling the adaptive window stays under (fixed: chunks in flight); change it while running with `bulkport concurrency`'),
  chunkSize: z
    .number()
    .int()
    .min(1)
    .max(PROPELLER_MAX_PRODUCTS)
    .default(500)
    .describe('products per request (at most 2000); smaller requests answer sooner'),
  requestsPerChunk: z
    .number()
    .int()
    .min(1)
    .max(PROPELLER_REQUESTS_PER_CHUNK)
    .default(PROPELLER_REQUESTS_PER_CHUNK)
    .describe(
      'requests of chunkSize a chunk holds, sent one after another by one activity (1 while workers older than this option still run)',
    ),
  lookupKey: z.enum(['sourceId', 'id']).default('sourceId').describe('how existing products are matched'),
  directives: PropellerDirectives.default({}),
  /**
   * Find the concurrency from Propeller's answers (grow while latency and errors stay low, back off on 429, 5xx and
   * rising latency); `concurrency` is then the ceiling. Off: exactly `concurrency` chunks in flight. In bench/adaptive.ts
   * it reached 94–104 % of the best fixed concurrency found by hand.
   */
  adaptiveConcurrency: z.boolean().default(true).describe("adapt the window to the target's latency and errors, under concurrency"),
});
export type PropellerOptions = z.infer<typeof PropellerOptions>;

export const propellerManifest = defineManifest({
  name: 'propeller',
  title: 'Propeller',
  options: PropellerOptions,
  switches: {
    adaptiveConcurrency: {
      flag: 'fixed-concurrency',
      sets: false,
      help: "keep exactly --concurrency chunks in flight rather than adapting to the target's latency and errors under it",
    },
  },
  probesQuota: false,
  adaptive: true,
});
