import { Controller, Get, Headers, HttpStatus, Logger, Query, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiProduces, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { nextCronRun, QueryApiConfig } from '@sluice/config';
import { ApiErrorDto, ApiException, ApiKeyProtected } from '@sluice/http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { countDropFolders } from './folder-counter';
import { FeedOverrunError } from './live-feed';
import { type LiveEvent, LiveEventsService, TooManyLiveClientsError } from './live-events.service';
import { ErrorsDto, ErrorsQueryDto, type FolderCountsDto, StatsDto, StatsQueryDto, type StorageDto, TraceDto } from './live.dto';
import { LiveRepository } from './live.repository';

export const HEARTBEAT_MS = 15_000;
/** What a client refused for MAX_SSE_CLIENTS is told to wait, in seconds. */
export const SSE_RETRY_AFTER_S = 10;
const FOLDER_COUNT_TTL_MS = 1000;

@ApiTags('live')
@ApiKeyProtected()
@Controller()
export class LiveController {
  private readonly logger = new Logger(LiveController.name);
  constructor(
    private readonly live: LiveRepository,
    private readonly events: LiveEventsService,
    private readonly config: QueryApiConfig,
  ) {}

  @Get('stats')
  @ApiOperation({ summary: 'Files per status and per folder, records loaded, readings and other rows written per table, throughput, storage and retention' })
  @ApiOkResponse({ type: StatsDto })
  async stats(@Query() q: StatsQueryDto): Promise<StatsDto> {
    const [totals, folders, { at, series, ...throughput }, storage] = await Promise.all([this.live.totals(), this.folders(), this.live.throughput(), this.storage()]);
    return {
      files_by_status: totals.byStatus,
      files_total: Object.values(totals.byStatus).reduce((a, b) => a + b, 0),
      folders,
      rows_loaded: totals.rowsLoaded,
      readings_loaded: totals.readingsLoaded,
      rows_written: totals.rowsWritten,
      rows_written_by_table: totals.rowsWrittenByTable,
      rows_rejected: totals.rowsRejected,
      throughput: q.series === false ? throughput : { ...throughput, series },
      at,
      storage,
    };
  }

  private async storage(): Promise<StorageDto> {
    const { tables, oldestReading, lastRun } = await this.live.storage();
    const c = this.config;
    return {
      tables,
      total_bytes: tables.reduce((n, t) => n + t.bytes, 0),
      oldest_reading: oldestReading,
      partition_interval: c.PARTITION_INTERVAL,
      retention: {
        raw: c.RAW_RETENTION ?? null,
        hourly_aggregates: c.HOURLY_AGGREGATE_RETENTION ?? null,
        daily_aggregates: c.DAILY_AGGREGATE_RETENTION ?? null,
        logs: c.LOG_RETENTION ?? null,
        processed_files: c.PROCESSED_RETENTION ?? null,
        quarantined_files: c.QUARANTINE_RETENTION ?? null,
        payloads: c.PAYLOAD_RETENTION ?? null,
        ledger: c.LEDGER_RETENTION ?? null,
      },
      maintenance: { cron: c.MAINTENANCE_CRON, next_run: nextCronRun(c.MAINTENANCE_CRON), last_run: lastRun },
    };
  }

  @Get('trace')
  @ApiOperation({ summary: 'Files in flight now and the last 10 finished, with their durations' })
  @ApiOkResponse({ type: TraceDto })
  async trace(): Promise<TraceDto> {
    const [in_flight, finished] = await Promise.all([this.live.inFlight(), this.live.recentlyFinished()]);
    return { in_flight, finished };
  }

  @Get('errors')
  @ApiOperation({ summary: 'Recent quarantines and failures with their reasons and first rejected rows' })
  @ApiOkResponse({ type: ErrorsDto })
  async errors(@Query() q: ErrorsQueryDto): Promise<ErrorsDto> {
    return { errors: await this.live.recentErrors(q.limit ?? 20) };
  }

  @Get('events')
  @ApiOperation({
    summary: 'Server-Sent Events of file lifecycle changes',
    description:
      'One `data:` JSON per file lifecycle change (queued, processing, processed, quarantined, duplicate, failed) with its `status`, ' +
      '`fileId` and the outcome fields; `id:` is the JetStream sequence of the message (a batch message gives one event per file, ' +
      'all with its sequence), so a reconnecting EventSource resumes after it ' +
      `(Last-Event-ID). A comment line every ${HEARTBEAT_MS / 1000} s keeps proxies from closing the stream. ` +
      'At most MAX_SSE_CLIENTS streams are open at once; a client more than 10,000 events behind (its connection cannot ' +
      'take them as fast as they come) is disconnected, and resumes by Last-Event-ID when it reconnects.',
  })
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'last-event-id', required: false, description: 'Resume after this event id (sent by EventSource on reconnect).' })
  @ApiServiceUnavailableResponse({ type: ApiErrorDto, description: `MAX_SSE_CLIENTS streams are open (\`Retry-After: ${SSE_RETRY_AFTER_S}\`), or JetStream did not answer.` })
  @ApiOkResponse({
    description: 'An endless stream; each event is `id: <seq>` and `data: <JSON lifecycle event>`.',
    content: { 'text/event-stream': { schema: { type: 'string', example: 'id: 42\ndata: {"fileId":"0b9d7c52-1f4e-4f0a-9d7e-6c3c1b2a4f10","status":"processed","originalName":"a.csv","rowsLoaded":10,"at":"2026-01-05T10:00:01.000Z"}\n\n' } } },
  })
  async stream(@Req() req: IncomingMessage, @Res() res: ServerResponse, @Headers('last-event-id') lastEventId?: string): Promise<void> {
    const after = lastEventId !== undefined && /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : undefined;
    // Subscribe before answering: if NATS is down the client gets the usual JSON error, not an empty stream.
    const sub = await this.events.subscribe(after).catch((e: unknown) => {
      if (e instanceof TooManyLiveClientsError) {
        res.setHeader('Retry-After', String(SSE_RETRY_AFTER_S));
        throw new ApiException(HttpStatus.SERVICE_UNAVAILABLE, 'service_unavailable', `${e.message}; retry after ${SSE_RETRY_AFTER_S} s`, {
          max_clients: e.max,
          retry_after_seconds: SSE_RETRY_AFTER_S,
        });
      }
      this.logger.warn(`cannot open a live event consumer: ${(e as Error).message}`);
      throw new ApiException(HttpStatus.SERVICE_UNAVAILABLE, 'service_unavailable', 'live events are unavailable: JetStream did not answer; retry shortly');
    });
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n: connected\n\n');
    // Per connection and cleared with it: a keep-alive of this stream, not one of the app's periodic jobs (those run on @nestjs/schedule).
    // A stream whose socket is backed up needs no keep-alive, and must not buffer one.
    const heartbeat = setInterval(() => res.writableNeedDrain || res.write(': heartbeat\n\n'), HEARTBEAT_MS);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      void sub.close();
      if (!res.writableEnded) res.end();
    };
    req.once('close', end);
    void (async () => {
      try {
        // One event at a time, and none while the socket is backed up: a slow client's events wait in the
        // shared feed, not in this process's buffers, until the feed drops it (FeedOverrunError).
        for await (const e of sub.events) {
          if (ended) break;
          if (!res.write(sseFrame(e))) await drained(res);
        }
      } catch (e) {
        // A client too slow for the feed is dropped; EventSource reconnects and resumes by Last-Event-ID.
        if (e instanceof FeedOverrunError) this.logger.debug(`dropped a live event client: ${e.message}`);
        // Otherwise NATS went away under us: end the stream the same way.
      } finally {
        end();
      }
    })();
  }

  /**
   * Walking a large processed/ costs real time, and every open dashboard asks after each event: one walk
   * at a time, its result reused for a second.
   */
  private folderCount?: { at: number; result: Promise<FolderCountsDto> };

  private folders(): Promise<FolderCountsDto> {
    const dir = this.config.DROPZONE_DIR;
    if (!dir) return this.live.byStoredFolder().then((counts) => ({ source: 'ledger' as const, counts, truncated: false }));
    if (!this.folderCount || Date.now() - this.folderCount.at > FOLDER_COUNT_TTL_MS) {
      const result = countDropFolders(dir).then((c): FolderCountsDto => ({ source: 'dropzone', ...c }));
      this.folderCount = { at: Date.now(), result };
      result.catch(() => (this.folderCount = undefined));
    }
    return this.folderCount.result;
  }
}

/** Frames are shared by every client reading the same event: serialised once. */
const frames = new WeakMap<LiveEvent, string>();
function sseFrame(e: LiveEvent): string {
  let frame = frames.get(e);
  if (frame === undefined) {
    frame = `id: ${e.seq}\ndata: ${JSON.stringify(e.data)}\n\n`;
    frames.set(e, frame);
  }
  return frame;
}

/** Resolves when the response can take more, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}
