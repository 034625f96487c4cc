/**
 * A file lock that serialises the interop test files: each builds its own namespaces and starts
 * its own servers, and on a two-core machine running them side by side only makes both slow.
 * A lock whose holder has died is taken over.
 */

import { openSync, closeSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOCK = join(tmpdir(), 'nat-alg-interop.lock');

function holderAlive(): boolean {
  try {
    const text = readFileSync(LOCK, 'utf8').trim();
    if (text === '') return true; // just created, the pid is being written
    const pid = Number(text);
    if (!Number.isInteger(pid) || pid <= 0) return false;
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * How long a test file waits for the lock, and the hook timeout of the beforeAll that waits: the
 * interop files run one after another, and on a two-core CI machine the ones before may hold the
 * lock for minutes, far past vitest's default hook timeout.
 */
export const INTEROP_LOCK_WAIT_MS = 900_000;
export const INTEROP_LOCK_HOOK_TIMEOUT_MS = INTEROP_LOCK_WAIT_MS + 120_000;

export async function acquireInteropLock(timeoutMs = 240_000): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(LOCK, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        try {
          if (readFileSync(LOCK, 'utf8').trim() === String(process.pid)) rmSync(LOCK);
        } catch {
          // Already gone.
        }
      };
      process.once('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (!holderAlive()) {
        rmSync(LOCK, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`interop lock ${LOCK} still held after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
