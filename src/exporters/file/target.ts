/**
 * One output file: opens it, appends records, rotates it by size, fsyncs it
 * on an interval and on close.
 *
 * Every operation on the file runs in one loop (`drain`), so writes,
 * rotations and syncs never overlap. Records that arrive while a write is in
 * flight are written together by the next `writev` (group commit): the event
 * loop only hands buffers to libuv's thread pool, and under load the number
 * of system calls stays below the number of batches. A record's promise
 * settles once its bytes are in the kernel, so a batch is counted as sent
 * only when it really reached the file.
 *
 * A failed write is rolled back (the file is truncated to where the write
 * began), so a full disk never leaves half a line behind and a retried batch
 * is never stored twice. The file is opened with O_APPEND so the kernel, not
 * a cached offset, says where the next byte goes.
 *
 * Targets are shared per path within the process (`acquireTarget`): during a
 * live reload the new exporter instance starts before the old one drains, and
 * both must append to the same open file instead of truncating or rotating
 * it under each other.
 */
import { constants } from 'node:fs';
import { mkdir, open, rename, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { RotationConfig } from './config.ts';
import { backupPath, pruneBackups } from './rotation.ts';
import { errorMessage } from '../../errors.ts';

export interface TargetOptions {
  path: string;
  /** Truncate the file when this process first opens it (otelcol's `append: false` without rotation). */
  truncate: boolean;
  rotation?: RotationConfig;
  flushIntervalMs: number;
  createDirectory: boolean;
  directoryMode: number;
  logger: Logger;
}

/** Mode of files this exporter creates (before the umask): the owner writes, the group reads. */
export const FILE_MODE = 0o640;
const MiB = 1024 * 1024;
/** Most buffers one writev takes (Linux's IOV_MAX). */
const MAX_IOV = 1024;
/** After a rotation fails (say, the directory turned read-only), writes keep going to the current file for this long before it is tried again. */
const ROTATION_RETRY_MS = 10_000;

interface PendingRecord {
  parts: Uint8Array[];
  bytes: number;
  resolve(): void;
  reject(err: unknown): void;
}

export class FileTarget {
  readonly path: string;
  private options: TargetOptions;
  private fh: FileHandle | undefined;
  private size = 0;
  private openedOnce = false;
  private pending: PendingRecord[] = [];
  private draining: Promise<void> | undefined;
  private syncDue = false;
  private dirty = false;
  private syncTimer: NodeJS.Timeout | undefined;
  private pruning: Promise<void> = Promise.resolve();
  private lastBackupMs = 0;
  private rotationBlockedUntil = 0;
  private readonly loggedProblems = new Set<string>();
  private closePromise: Promise<void> | undefined;
  /** A previous target on the same path still closing: opened after it. */
  private readonly predecessor: Promise<void> | undefined;

  constructor(options: TargetOptions, predecessor?: Promise<void>) {
    this.path = resolve(options.path);
    this.options = options;
    this.predecessor = predecessor;
    this.startSyncTimer();
  }

  /** Take the newest settings (a reload); the path and the truncate-once decision stay. */
  update(options: TargetOptions): void {
    const intervalChanged = options.flushIntervalMs !== this.options.flushIntervalMs;
    this.options = { ...options, truncate: this.options.truncate };
    if (intervalChanged) this.startSyncTimer();
  }

  /** Bytes in the current file. */
  get currentSize(): number {
    return this.size;
  }

  /** Open now (at start) so a bad path is reported early; rejects with the cause, and later writes try again. */
  async open(): Promise<void> {
    await this.ensureOpen();
  }

  /** Append one record (its parts land contiguously, in one file); resolves once the kernel has it. */
  write(parts: Uint8Array[], bytes: number): Promise<void> {
    if (this.closePromise) return Promise.reject(new Error(`file ${this.path} is closed`));
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ parts, bytes, resolve, reject });
      this.kick();
    });
  }

  /** Write what is pending, fsync, close. Idempotent. */
  close(): Promise<void> {
    this.closePromise ??= this.closeNow();
    return this.closePromise;
  }

  private async closeNow(): Promise<void> {
    clearInterval(this.syncTimer);
    while (this.draining) await this.draining;
    await this.pruning;
    const fh = this.fh;
    this.fh = undefined;
    if (!fh) return;
    try {
      await fh.sync();
    } catch (err) {
      this.problem('sync', err, 'fsync failed at close');
    }
    await fh.close().catch((err) => this.problem('close', err, 'closing the file failed'));
  }

  private startSyncTimer(): void {
    clearInterval(this.syncTimer);
    this.syncTimer = setInterval(() => {
      if (!this.dirty) return;
      this.syncDue = true;
      this.kick();
    }, this.options.flushIntervalMs);
    this.syncTimer.unref();
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0 || this.syncDue) {
        if (this.pending.length > 0) {
          const group = this.pending;
          this.pending = [];
          await this.writeGroup(group);
        } else {
          this.syncDue = false;
          await this.sync();
        }
      }
    } finally {
      // Runs in the same turn as the last `while` check: a write() after this starts a new drain.
      this.draining = undefined;
    }
  }

  private async writeGroup(group: PendingRecord[]): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await this.ensureOpen();
    } catch (err) {
      for (const r of group) r.reject(err);
      return;
    }
    const maxBytes = (this.options.rotation?.max_megabytes ?? 0) * MiB;
    let run: PendingRecord[] = [];
    let runBytes = 0;
    for (const r of group) {
      // Rotate before a record that would take the file past the limit; a record larger than
      // the limit on its own still gets written, alone in a fresh file, rather than dropped.
      if (maxBytes > 0 && this.size + runBytes > 0 && this.size + runBytes + r.bytes > maxBytes && Date.now() >= this.rotationBlockedUntil) {
        if (run.length > 0) await this.writeRun(fh, run, runBytes);
        run = [];
        runBytes = 0;
        try {
          fh = await this.rotate();
        } catch (err) {
          for (const rest of group.slice(group.indexOf(r))) rest.reject(err);
          return;
        }
      }
      run.push(r);
      runBytes += r.bytes;
    }
    if (run.length > 0) await this.writeRun(fh, run, runBytes);
  }

  private async writeRun(fh: FileHandle, run: PendingRecord[], runBytes: number): Promise<void> {
    const start = this.size;
    const bufs: Uint8Array[] = [];
    for (const r of run) for (const p of r.parts) if (p.byteLength > 0) bufs.push(p);
    try {
      await writeAll(fh, bufs);
      this.size = start + runBytes;
      this.dirty = true;
      for (const r of run) r.resolve();
    } catch (err) {
      // Take back what part of the run did land, so the file holds whole records only.
      await fh.truncate(start).catch(() => {});
      for (const r of run) r.reject(err);
    }
  }

  private async ensureOpen(): Promise<FileHandle> {
    if (this.fh) return this.fh;
    if (this.predecessor) await this.predecessor;
    const { createDirectory, directoryMode, truncate, rotation } = this.options;
    if (createDirectory) await mkdir(dirname(this.path), { recursive: true, mode: directoryMode });
    let flags = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND;
    if (truncate && !this.openedOnce) flags |= constants.O_TRUNC;
    const fh = await open(this.path, flags, FILE_MODE);
    try {
      this.size = (await fh.stat()).size;
    } catch (err) {
      await fh.close().catch(() => {});
      throw err;
    }
    this.fh = fh;
    this.openedOnce = true;
    if (rotation) this.prune();
    return fh;
  }

  /** Rename the current file to a timestamped backup and start a new one (lumberjack's scheme). */
  private async rotate(): Promise<FileHandle> {
    const fh = this.fh!;
    const rotation = this.options.rotation!;
    // Two rotations within one millisecond must not give the same name (the second rename would overwrite the first backup).
    const stamp = Math.max(Date.now(), this.lastBackupMs + 1);
    const backup = backupPath(this.path, stamp, rotation.localtime);
    try {
      await fh.sync();
      await rename(this.path, backup);
    } catch (err) {
      this.rotationBlockedUntil = Date.now() + ROTATION_RETRY_MS;
      this.problem('rotate', err, 'rotation failed; writing on to the current file');
      return fh;
    }
    this.lastBackupMs = stamp;
    this.fh = undefined;
    await fh.close().catch(() => {});
    this.dirty = false;
    const next = await open(this.path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_TRUNC, FILE_MODE);
    this.fh = next;
    this.size = 0;
    this.options.logger.info({ path: this.path, backup }, 'rotated output file');
    this.prune();
    return next;
  }

  private prune(): void {
    const rotation = this.options.rotation;
    if (!rotation || (rotation.max_backups === 0 && rotation.max_days === 0)) return;
    this.pruning = this.pruning
      .then(() => pruneBackups(this.path, { maxBackups: rotation.max_backups, maxDays: rotation.max_days, localtime: rotation.localtime }))
      .then((removed) => {
        if (removed.length > 0) this.options.logger.debug({ removed }, 'removed old backups');
      })
      .catch((err) => this.problem('prune', err, 'removing old backups failed'));
  }

  private async sync(): Promise<void> {
    const fh = this.fh;
    if (!fh || !this.dirty) return;
    this.dirty = false;
    try {
      await fh.datasync();
    } catch (err) {
      this.problem('sync', err, 'fsync failed');
    }
  }

  /** Problems outside a batch's write (sync, rotation, pruning): warned once per kind and code, then at debug. */
  private problem(kind: string, err: unknown, message: string): void {
    const code = (err as NodeJS.ErrnoException)?.code ?? 'error';
    const key = kind + ':' + code;
    const fields = { path: this.path, err: errorMessage(err) };
    if (this.loggedProblems.has(key)) this.options.logger.debug(fields, message);
    else {
      this.loggedProblems.add(key);
      this.options.logger.warn(fields, message);
    }
  }
}

/** writev until every byte is written (the kernel may take less than asked). */
async function writeAll(fh: FileHandle, bufs: Uint8Array[]): Promise<void> {
  let i = 0;
  while (i < bufs.length) {
    const slice = bufs.slice(i, i + MAX_IOV);
    let { bytesWritten } = await fh.writev(slice);
    if (bytesWritten === 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    while (i < bufs.length && bytesWritten >= bufs[i].byteLength) {
      bytesWritten -= bufs[i].byteLength;
      i++;
    }
    if (bytesWritten > 0) bufs[i] = bufs[i].subarray(bytesWritten);
  }
}

// ---------------------------------------------------------------- sharing per path

interface Entry {
  target: FileTarget;
  refs: number;
}

const targets = new Map<string, Entry>();
const closing = new Map<string, Promise<void>>();

export interface TargetLease {
  readonly target: FileTarget;
  /** Give the target back; the last holder closes it (fsync, close). Idempotent. */
  release(): Promise<void>;
}

/** The target for `options.path`, shared with any other holder in this process. */
export function acquireTarget(options: TargetOptions): TargetLease {
  const key = resolve(options.path);
  let entry = targets.get(key);
  if (entry) {
    entry.refs++;
    entry.target.update(options);
  } else {
    entry = { target: new FileTarget(options, closing.get(key)), refs: 1 };
    targets.set(key, entry);
  }
  const held = entry;
  let released: Promise<void> | undefined;
  return {
    target: held.target,
    release() {
      released ??= (async () => {
        if (--held.refs > 0) return;
        if (targets.get(key) === held) targets.delete(key);
        const done = held.target.close();
        closing.set(key, done);
        try {
          await done;
        } finally {
          if (closing.get(key) === done) closing.delete(key);
        }
      })();
      return released;
    },
  };
}
