import { Injectable, Logger } from '@nestjs/common';
import { watch, type FSWatcher } from 'chokidar';
import { WatcherConfig } from '@sluice/config';
import { DiskSpace, DropAreas, isIgnoredPath, MAX_WALK_DEPTH } from '@sluice/storage';
import { ClaimService } from './claim.service';
import { TaskTracker } from './concurrency.util';
import { WatcherMetrics } from './watcher.metrics';
import { assessReadiness, recheckDelayMs, type StableState } from './file-readiness.util';

interface Pending {
  state?: StableState;
  timer?: NodeJS.Timeout;
}

/**
 * Finds files in incoming/ (chokidar events plus a full scan on demand), waits until each is ready
 * (see assessReadiness) and hands it to ClaimService. Symlinks are never followed: chokidar runs with
 * followSymlinks:false and every path is lstat'ed by DropAreas before anything else happens.
 * While the drop folder's disk is below MIN_FREE_DISK nothing is claimed: files stay in incoming/ until
 * WatcherService scans again once space is back.
 */
@Injectable()
export class IncomingWatcher {
  private readonly logger = new Logger(IncomingWatcher.name);
  private readonly pending = new Map<string, Pending>();
  private readonly claiming = new Set<string>();
  private readonly complained = new Set<string>();
  private watcher?: FSWatcher;
  private stopping = false;

  constructor(
    private readonly config: WatcherConfig,
    private readonly drop: DropAreas,
    private readonly claims: ClaimService,
    private readonly tasks: TaskTracker,
    private readonly metrics: WatcherMetrics,
    private readonly disk: DiskSpace,
  ) {}

  async start(): Promise<void> {
    const incoming = this.drop.areaPath('incoming');
    const watcher = watch(incoming, {
      ignoreInitial: true,
      followSymlinks: false,
      atomic: false,
      ignorePermissionErrors: true,
      depth: MAX_WALK_DEPTH,
      ignored: (path: string) => {
        const rel = this.drop.relativeToIncoming(path);
        return rel !== null && isIgnoredPath(rel);
      },
    });
    this.watcher = watcher;
    const onPath = (path: string) => {
      const rel = this.drop.relativeToIncoming(path);
      if (rel !== null) this.schedule(rel, 0);
    };
    watcher.on('add', onPath);
    watcher.on('change', onPath);
    watcher.on('unlink', (path: string) => {
      const rel = this.drop.relativeToIncoming(path);
      if (rel !== null) this.forget(rel);
    });
    watcher.on('error', (e: unknown) => this.logger.error(`file watcher: ${(e as Error).message}`));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    this.logger.log(`watching ${incoming} (stability window ${this.config.STABILITY_WINDOW_MS} ms)`);
  }

  /** Full scan of incoming/: catches anything the file-system events missed. */
  async scan(): Promise<void> {
    for (const entry of await this.drop.listIncoming()) {
      if (this.stopping) return;
      if (entry.unreachable) this.reportUnreachable(entry.relativePath, entry.unreachable);
      else this.schedule(entry.relativePath, 0);
    }
  }

  /** Stops watching and cancels waits; claims already started are left to TaskTracker. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    await this.watcher?.close();
  }

  private forget(rel: string): void {
    clearTimeout(this.pending.get(rel)?.timer);
    this.pending.delete(rel);
  }

  private schedule(rel: string, delayMs: number): void {
    if (this.stopping || this.claiming.has(rel) || isIgnoredPath(rel)) return;
    const p = this.pending.get(rel) ?? {};
    if (p.timer) return; // a check is already due; it will see whatever changed
    p.timer = setTimeout(() => {
      p.timer = undefined;
      void this.tasks.track(this.check(rel)).catch((e: unknown) => {
        if (this.complainOnce(rel, `incoming/${rel} cannot be claimed: ${(e as Error).message}`)) this.metrics.unclaimable.inc({ reason: 'claim_failed' });
      });
    }, delayMs);
    this.pending.set(rel, p);
  }

  private async check(rel: string): Promise<void> {
    if (this.stopping || this.claiming.has(rel)) return;
    // A claim may write (a private copy of a hard-linked file, an .error.json): left in incoming/ until space is back.
    if ((await this.disk.current()).low) return this.forget(rel);
    const st = await this.drop.statIncoming(rel);
    if (!st || st.isDirectory()) return this.forget(rel);
    if (!st.isFile()) {
      this.forget(rel);
      await this.claims.quarantineIrregular(`incoming/${rel}`, 'is not a regular file (symlinks, FIFOs, sockets and devices are never followed or read)');
      return;
    }
    const p = this.pending.get(rel) ?? {};
    const verdict = assessReadiness(st, p.state, Date.now(), this.config.STABILITY_WINDOW_MS);
    if (!verdict.ready) {
      p.state = verdict.state;
      this.pending.set(rel, p);
      this.schedule(rel, recheckDelayMs(this.config.STABILITY_WINDOW_MS));
      return;
    }
    this.forget(rel);
    this.logger.debug(`incoming/${rel} ready (${verdict.reason})`);
    this.claiming.add(rel);
    try {
      // A file renamed into place is finished; one written in place may still be open.
      await this.claims.claimIncoming(rel, verdict.reason !== 'renamed_into_place');
      this.complained.delete(rel);
    } finally {
      this.claiming.delete(rel);
    }
  }

  /** A folder whose files can never be claimed: one warning and one count per folder, at each start. */
  private reportUnreachable(rel: string, why: 'too_deep' | 'unreadable'): void {
    const message =
      why === 'too_deep'
        ? `incoming/${rel} is nested deeper than ${MAX_WALK_DEPTH} folders below incoming/: nothing in it is watched or claimed; move its files higher up`
        : `incoming/${rel} cannot be read by the watcher: nothing in it is claimed; fix its permissions`;
    if (this.complainOnce(`unreachable:${rel}`, message, 'warn')) this.metrics.unclaimable.inc({ reason: why });
  }

  /** Logs a message once per key; true when it was logged now. */
  private complainOnce(rel: string, message: string, level: 'error' | 'warn' = 'error'): boolean {
    if (this.complained.has(rel)) return false;
    if (this.complained.size > 10000) this.complained.clear();
    this.complained.add(rel);
    this.logger[level](message);
    return true;
  }
}
