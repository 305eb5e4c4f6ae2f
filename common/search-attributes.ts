import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

// Registered on the dev server by scripts/dev-server.ts and on any cluster by `bulkport setup`.
export const BulkImportTarget = defineSearchAttributeKey('BulkImportTarget', SearchAttributeType.KEYWORD);
export const BulkImportStatus = defineSearchAttributeKey('BulkImportStatus', SearchAttributeType.KEYWORD);
export const BulkImportTotal = defineSearchAttributeKey('BulkImportTotal', SearchAttributeType.INT);
export const BulkImportSucceeded = defineSearchAttributeKey('BulkImportSucceeded', SearchAttributeType.INT);
export const BulkImportFailed = defineSearchAttributeKey('BulkImportFailed', SearchAttributeType.INT);
/** On a redrive (`bulkport retry`): the import whose records it sends again, so `status` of that one finds it. */
export const BulkImportRedriveOf = defineSearchAttributeKey('BulkImportRedriveOf', SearchAttributeType.KEYWORD);

export const allSearchAttributes = [
  BulkImportTarget,
  BulkImportStatus,
  BulkImportTotal,
  BulkImportSucceeded,
  BulkImportFailed,
  BulkImportRedriveOf,
];
