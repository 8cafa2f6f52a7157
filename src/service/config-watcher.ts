/**
 * Watches the config files for changes (CONTRACT §5), including the way a
 * Kubernetes ConfigMap volume updates them: the file is a symlink through
 * `..data`, which is swapped atomically to a new directory, so the file's own
 * inode never changes. Watching the parent directory sees that swap; the
 * content hash decides whether anything really changed (editors and the
 * kubelet emit several events per change), and a debounce folds bursts.
 */
import { watch, readFileSync, type FSWatcher } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import type { Logger } from '../telemetry/logger.ts';
import { errorMessage } from '../errors.ts';

export class ConfigWatcher {
  private readonly files: string[];
  private readonly onChange: () => void;
  private readonly logger: Logger;
  private readonly debounceMs: number;
  private watchers: FSWatcher[] = [];
  private timer?: NodeJS.Timeout;
  private lastHash: string;

  constructor(files: string[], onChange: () => void, logger: Logger, debounceMs = Number(process.env.TRIBUTARY_RELOAD_DEBOUNCE_MS ?? 200)) {
    this.files = files.map((f) => resolve(f));
    this.onChange = onChange;
    this.logger = logger;
    this.debounceMs = debounceMs;
    this.lastHash = this.hash();
  }

  private hash(): string {
    const h = createHash('sha256');
    for (const f of this.files) {
      try {
        h.update(readFileSync(f));
      } catch {
        h.update(`missing:${f}`);
      }
      h.update('\0');
    }
    return h.digest('hex');
  }

  start(): void {
    for (const dir of new Set(this.files.map((f) => dirname(f)))) {
      try {
        const w = watch(dir, { persistent: false }, () => this.schedule());
        w.on('error', (err) => this.logger.warn({ dir, err: err.message }, 'config watch error'));
        this.watchers.push(w);
      } catch (err) {
        this.logger.warn({ dir, err: errorMessage(err) }, 'cannot watch config directory; reload with SIGHUP');
      }
    }
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const h = this.hash();
      if (h === this.lastHash) return;
      this.lastHash = h;
      this.onChange();
    }, this.debounceMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
