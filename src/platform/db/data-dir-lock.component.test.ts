import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataDirLockedError, lockDataDir } from './data-dir-lock.js';

const LOCK_FILE = 'embedded.lock';

/** A real process that stays alive until killed. */
function spawnSleeper(): ChildProcess {
  return spawn(process.execPath, ['-e', 'setInterval(() => {}, 60_000)'], { stdio: 'ignore' });
}

/** The pid of a process that has exited: the kind a crashed server leaves in its lock file. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn a child process');
  if (child.exitCode === null) await once(child, 'exit');
  return pid;
}

function lockRefusal(dataDir: string): Error {
  try {
    lockDataDir(dataDir)();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected lockDataDir to refuse');
}

describe('lockDataDir', () => {
  let dataDir: string;
  const children: ChildProcess[] = [];

  beforeEach(() => {
    dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'ops-lock-')), 'data');
  });

  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(path.dirname(dataDir), { recursive: true, force: true });
  });

  it('when the directory is free, then it creates the directory and a lock naming this process', () => {
    const release = lockDataDir(dataDir);
    expect(readFileSync(path.join(dataDir, LOCK_FILE), 'utf8')).toBe(String(process.pid));
    release();
  });

  it('when released, then the lock file is removed and the directory can be locked again', () => {
    lockDataDir(dataDir)();
    expect(existsSync(path.join(dataDir, LOCK_FILE))).toBe(false);
    const again = lockDataDir(dataDir);
    expect(existsSync(path.join(dataDir, LOCK_FILE))).toBe(true);
    again();
  });

  it('when a live process holds the lock, then it refuses with DataDirLockedError naming the directory and pid', () => {
    const holder = spawnSleeper();
    children.push(holder);
    lockDataDir(dataDir)();
    writeFileSync(path.join(dataDir, LOCK_FILE), String(holder.pid));

    const error = lockRefusal(dataDir);
    expect(error).toBeInstanceOf(DataDirLockedError);
    expect(error.message).toContain(dataDir);
    expect(error.message).toContain(String(holder.pid));
    expect(error.message).toMatch(/in use/);
    expect(error.message).not.toMatch(/\n/);
    // The holder's lock is left untouched.
    expect(readFileSync(path.join(dataDir, LOCK_FILE), 'utf8')).toBe(String(holder.pid));
  });

  it('when the process holding the lock has died, then the stale lock is taken over', async () => {
    const pid = await deadPid();
    lockDataDir(dataDir)();
    writeFileSync(path.join(dataDir, LOCK_FILE), String(pid));

    const release = lockDataDir(dataDir);
    expect(readFileSync(path.join(dataDir, LOCK_FILE), 'utf8')).toBe(String(process.pid));
    release();
    expect(existsSync(path.join(dataDir, LOCK_FILE))).toBe(false);
  });

  it('when the lock file holds no pid, then it is treated as stale and taken over', () => {
    lockDataDir(dataDir)();
    writeFileSync(path.join(dataDir, LOCK_FILE), 'garbage');
    const release = lockDataDir(dataDir);
    expect(readFileSync(path.join(dataDir, LOCK_FILE), 'utf8')).toBe(String(process.pid));
    release();
  });

  it('when the holder exits, then the next process can lock the directory', async () => {
    const holder = spawnSleeper();
    children.push(holder);
    lockDataDir(dataDir)();
    writeFileSync(path.join(dataDir, LOCK_FILE), String(holder.pid));
    expect(() => lockDataDir(dataDir)).toThrow(DataDirLockedError);

    holder.kill('SIGKILL');
    await once(holder, 'exit');
    const release = lockDataDir(dataDir);
    release();
  });
});
