/** A dry run's plan as the CLI prints it, and its exit code: pure functions. */
import { formatDuration, type ImportPlan } from '../common/import';
import { ExitCode } from './outcome';

const n = (count: number) => count.toLocaleString('en-US');

/** 0: every record is valid; 2: some are invalid; 1: none is valid (an import would send nothing). */
export function planExitCode(plan: ImportPlan): ExitCode {
  if (plan.counts.valid === 0 && !plan.counts.unchanged) return ExitCode.failed;
  return plan.counts.invalid === 0 ? ExitCode.ok : ExitCode.partial;
}

export function planLines(plan: ImportPlan): string[] {
  const { counts } = plan;
  const width = n(counts.read).length;
  const row = (label: string, count: number, note = '') => `  ${label.padEnd(10)} ${n(count).padStart(width)}${note && `  ${note}`}`;
  // With delta sync, nothing to send is no failure: every record is valid or already in place.
  const lines = [
    `Dry run of ${plan.source} into ${plan.target}: nothing was sent.`,
    row('records', counts.read),
    row('valid', counts.valid),
    row('invalid', counts.invalid, counts.invalid ? `all in ${plan.invalidRows}` : ''),
  ];
  if (counts.unchanged !== undefined) lines.push(row('unchanged', counts.unchanged, 'not sent: the target holds them as they are'));
  for (const e of plan.firstErrors) lines.push(`    line ${e.line}${e.key ? ` (${e.key})` : ''}: ${e.error}`);
  if (counts.invalid > plan.firstErrors.length) lines.push(`    … and ${n(counts.invalid - plan.firstErrors.length)} more`);
  lines.push(row('chunks', plan.chunks), row('requests', plan.requests, 'at least: a retry or a split adds more'));
  for (const call of plan.otherCalls) lines.push(`  ${' '.repeat(11 + width)}  + ${n(call.count)} ${call.what}`);
  if (plan.estimate) {
    lines.push(`  time       at least ${formatDuration(plan.estimate.seconds)}: ${plan.estimate.why}`);
    for (const b of plan.bounds)
      if (b !== plan.estimate && b.why !== plan.estimate.why) lines.push(`    (${formatDuration(b.seconds)}: ${b.why})`);
  }
  for (const note of plan.notes) lines.push(`  note: ${note}`);
  if (counts.valid === 0 && counts.unchanged) lines.push('Nothing to send: the target holds every valid product as it is.');
  else if (counts.valid === 0) lines.push('Nothing is valid: an import would send nothing. Fix the rows above and run the dry run again.');
  else if (counts.invalid > 0) lines.push('Fix the invalid rows, or import as it is: invalid rows are reported and never sent.');
  return lines;
}
