#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader in this process, so `npx bulkport` works from the
// repository without a build step.
import { register } from 'tsx/esm/api';

register();
await import('../client/cli.ts');
