/** Voucherify as the workflow and the CLI know it: options, and an account quota that bulk calls are planned with. */
import { z } from 'zod';
import { commonOptions } from '../../common/options';
import { defineManifest } from '../manifest';

/** POST /v1/products/bulk/async takes at most 10 MiB. */
export const VOUCHERIFY_MAX_BODY_BYTES = 10_485_760;

export const VoucherifyOptions = z.object({
  ...commonOptions,
  chunkBytes: z
    .number()
    .int()
    .min(1024)
    .max(VOUCHERIFY_MAX_BODY_BYTES)
    .default(10_000_000)
    .describe("request body bytes per chunk, a margin under the API's 10 MiB (at most 10,485,760)"),
  shareQuota: z
    .boolean()
    .default(true)
    .describe(
      "pace bulk calls with every other import into the same account (one coordinator per account); false: by this import's answers alone",
    ),
});
export type VoucherifyOptions = z.infer<typeof VoucherifyOptions>;

export const voucherifyManifest = defineManifest({
  name: 'voucherify',
  title: 'Voucherify',
  options: VoucherifyOptions,
  switches: {
    shareQuota: {
      flag: 'isolated-quota',
      sets: false,
      help: "pace by this import's own answers, not with the other imports into the account (default: shared)",
    },
  },
  probesQuota: true,
  // Its latency is its queue of async actions, not our load.
  adaptive: false,
});
