export { startVoucherifySandbox, voucherifyDefaults } from './voucherify';
export type { VoucherifySandbox, VoucherifySandboxOptions, VoucherifyQuotas } from './voucherify';
export type { VoucherifyProduct } from './voucherify-products';
export type { ResultShape } from './voucherify-actions';
export { defaultFaults } from './faults';
export type { FaultOptions, FaultKind } from './faults';
export type { SandboxStats } from './stats';
export type { CommonSandboxOptions, SandboxHandle } from './common';
