import type { TargetName } from '../common/import';
import type { Target } from './types';
import { propeller } from './propeller';
import { voucherify } from './voucherify';

/** Every target bulkport can import into, by name. */
export const allTargets: { [T in TargetName]: Target<T> } = { voucherify, propeller };

export function targetNamed<T extends TargetName>(name: T): Target<T> {
  const target = allTargets[name] as Target<T> | undefined;
  if (!target) throw new Error(`bulkport has no target named ${name}; known targets: ${Object.keys(allTargets).join(', ')}`);
  return target;
}
