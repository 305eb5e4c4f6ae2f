/** A sandbox in a child process, for benchmarks that measure the client's process alone. */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** One sandbox in a process of its own (`bulkport sandbox --only`), so its CPU is not the measured process's. */
export async function startSandboxProcess(
  only: 'voucherify' | 'propeller',
): Promise<{ env: Record<string, string>; pid: number; stop: () => Promise<void> }> {
  const commandModule = fileURLToPath(new URL('../sandbox/command.ts', import.meta.url));
  const script = `import { sandboxCommand } from ${JSON.stringify(commandModule)}; await sandboxCommand().parseAsync(process.argv.slice(1), { from: 'user' });`;
  const args = ['--only', only, '--voucherify-port', '0', '--propeller-port', '0', '--quiet', '--products-per-second', '10000000'];
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script, '--', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const env = await new Promise<Record<string, string>>((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += String(chunk);
      if (output.includes('Stop with Ctrl-C.'))
        resolve(Object.fromEntries([...output.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1] ?? '', m[2] ?? ''])));
    });
    child.once('exit', (code) => reject(new Error(`sandbox exited with ${code}: ${output}`)));
  });
  return {
    env,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** The process's user + system CPU seconds so far (/proc/<pid>/stat's utime and stime, in clock ticks of 1/100 s). */
export async function cpuSecondsOf(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The pid of this process's child whose command line contains `needle` (the Temporal dev server the SDK spawned). */
export async function childPid(needle: string): Promise<number | undefined> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.replace(/^.*\) /s, '').split(' ')[1]) !== process.pid) continue;
      if ((await readFile(`/proc/${entry}/cmdline`, 'utf8')).includes(needle)) return Number(entry);
    } catch {
      // The process ended while it was looked at.
    }
  }
  return undefined;
}
