export { importCatalog } from './import';
export { accountQuota } from './account-quota';
