/**
 * Whether this process's event loop is staging a source. Staging is what every chunk after the first waits for, and on
 * two cores it shares them with the target and Temporal: work that can wait (a chunk's rows written ahead of its
 * outcome) waits until no staging runs here. Per process, as the event loop is; staging in a thread of its own is not
 * counted.
 */
let running = 0;
let waiting: (() => void)[] = [];

/** Runs `stage` counted as staging on this event loop. */
export async function asStaging<T>(stage: () => Promise<T>): Promise<T> {
  running++;
  try {
    return await stage();
  } finally {
    if (--running === 0) {
      const woken = waiting;
      waiting = [];
      for (const wake of woken) wake();
    }
  }
}

/** Resolves to true once no staging runs here, or to false once `skip` is called first (the work is not wanted then). */
export function afterStaging(): { idle: Promise<boolean>; skip(): void } {
  if (running === 0) return { idle: Promise.resolve(true), skip() {} };
  let settle!: (idle: boolean) => void;
  const idle = new Promise<boolean>((resolve) => {
    settle = resolve;
  });
  const wake = () => settle(true);
  waiting.push(wake);
  return {
    idle,
    skip() {
      waiting = waiting.filter((w) => w !== wake);
      settle(false);
    },
  };
}
