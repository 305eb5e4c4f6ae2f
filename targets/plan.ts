/** The parts of a dry run's plan that every target shares: its rate cap, and the user's cap on submissions. */
import { formatDuration } from '../common/import';
import type { SendPlan } from './types';

const n = (count: number) => count.toLocaleString('en-US');

/**
 * `calls` (product requests and the rest) at the worker's cap of `rps` per second (`variable`), and the product
 * requests at `--max-submits-per-minute` when set. Per worker process: more workers share an import's chunks.
 */
export function rateBounds(p: {
  requests: number;
  calls: number;
  rps: number;
  variable: string;
  maxSubmitsPerMinute?: number | undefined;
}): SendPlan['bounds'] {
  const bounds = [{ seconds: p.calls / p.rps, why: `${n(p.calls)} calls at ${p.variable}=${p.rps} a second (one worker)` }];
  if (p.maxSubmitsPerMinute) {
    bounds.push({
      seconds: (Math.max(0, p.requests - 1) / p.maxSubmitsPerMinute) * 60,
      why: `${n(p.requests)} requests at --max-submits-per-minute ${p.maxSubmitsPerMinute}`,
    });
  }
  return bounds;
}

/** How long `calls` take at least through an hourly bucket of `perHour` that is full at the start. */
export const hourlyQuotaTime = (calls: number, perHour: number) => formatDuration(Math.floor((calls - 1) / perHour) * 3600);
