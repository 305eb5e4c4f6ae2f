export { importCatalog } from './import';
