export { importCatalog } from './import';
export { accountQuota } from './account-quota';
export { planCatalog } from './plan';
export { importIntoTargets } from './multi';
