// Local simulators of the Voucherify and Propeller bulk APIs, for tests, benchmarks
// and `bulkport sandbox`. Start one in-process on an ephemeral port:
//   const sandbox = await startVoucherifySandbox({ seed: 7, faults: { productFailureRate: 0.05 } });
//   ...use sandbox.url / sandbox.env...; await sandbox.close();
export { startVoucherifySandbox, voucherifyDefaults } from './voucherify';
export type { VoucherifySandbox, VoucherifySandboxOptions, VoucherifyQuotas } from './voucherify';
export type { VoucherifyProduct } from './voucherify-products';
export type { ResultShape } from './voucherify-actions';

export { startPropellerSandbox, propellerDefaults } from './propeller';
export type { PropellerSandbox, PropellerSandboxOptions } from './propeller';
export type { LookupKey, StoredProduct as PropellerProduct } from './propeller-catalog';

export { defaultFaults } from './faults';
export type { FaultOptions, FaultKind } from './faults';
export type { SandboxStats } from './stats';
export type { CommonSandboxOptions, SandboxHandle, SandboxOptionsInput } from './common';
