import { Controller, Get, Headers, Logger, Query, Res, StreamableFile } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { QueryApiConfig } from '@sluice/config';
import { CsvWriter } from '@sluice/formats';
import { ApiException, ApiKeyProtected, ApiNotFound } from '@sluice/http';
import { exportResponse } from '../http/export-stream';
import { retentionHeaderDoc, retentionNote, setRetentionHeader } from '../http/retention-horizon';
import { assertRange, optionalTimestamptz as ts } from '../http/time-range';
import { EXPORT_CONTENT_TYPES, ExportEncoder, exportFormatFor } from '../sensors/readings-export';
import { decodeKeyset, encodeKeyset } from '../vehicles/keyset-cursor.util';
import { DEFAULT_LOGS_PAGE, LogsPageDto, LogsQueryDto, LogTagsDto } from './logs.dto';
import { EXPORT_BATCH_LINES, type LogsFilter, LogsRepository } from './logs.repository';

/** A line as the export cursor returns it. */
type LogRow = [fileId: string, fileName: string, line: number, ts: string | null, tag: string | null, message: string];

const CSV_COLUMNS = [
  { name: 'file_id', kind: 'text' },
  { name: 'file_name', kind: 'text' },
  { name: 'line', kind: 'number' },
  { name: 'ts', kind: 'text' },
  { name: 'tag', kind: 'text' },
  { name: 'message', kind: 'text' },
] as const;
const ndjsonLine = ([fileId, fileName, line, ts, tag, message]: LogRow) => `${JSON.stringify({ file_id: fileId, file_name: fileName, line, ts, tag, message })}\n`;

@ApiTags('logs')
@ApiKeyProtected()
@Controller('logs')
export class LogsController {
  private readonly logger = new Logger(LogsController.name);

  constructor(
    private readonly logs: LogsRepository,
    private readonly config: QueryApiConfig,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Lines of plain-text files (JSON pages, or a CSV / NDJSON export of every match)',
    description:
      'Filters combine: `tag`, `file` (id or name), the line timestamp range [from, to), full-text `q`. JSON pages are newest ' +
      'loaded first (`order=asc`: load order); keyset pagination: follow `next_cursor` until it is null. With `Accept: text/csv` ' +
      '(columns `file_id,file_name,line,ts,tag,message`) or `Accept: application/x-ndjson` every matching line is streamed from ' +
      'a database cursor, whole, in file order: the files oldest first (as they arrived), each file\'s lines by line number, as ' +
      'they were in the file (`order=desc`: the reverse); `limit` and `cursor` are refused there.',
  })
  @ApiProduces('application/json', 'text/csv', 'application/x-ndjson')
  @ApiOkResponse({ type: LogsPageDto, headers: retentionHeaderDoc('logs') })
  @ApiNotFound('`file` names no plain-text file.')
  async list(
    @Query() q: LogsQueryDto,
    @Res({ passthrough: true }) res: { setHeader(name: string, value: string): unknown },
    @Headers('accept') accept?: string,
  ): Promise<LogsPageDto | StreamableFile> {
    assertRange(q.from, q.to);
    const retention = retentionNote(this.config, 'logs', q.from);
    const format = exportFormatFor(accept);
    // A page shows the newest lines first; an export is a file's lines as they were in the file.
    const filter: Omit<LogsFilter, 'limit'> = { tag: q.tag, from: ts(q.from), to: ts(q.to), q: q.q, order: q.order ?? (format ? 'asc' : 'desc') };
    if (q.file !== undefined) {
      filter.fileIds = await this.logs.resolveFile(q.file);
      if (filter.fileIds.length === 0) throw ApiException.notFound('file', q.file);
    }
    if (format) {
      for (const p of ['limit', 'cursor'] as const) {
        if (q[p] !== undefined) throw ApiException.invalidParameter(p, `pages do not apply to a ${format} export, which streams every matching line`);
      }
      const rows = await this.logs.export(filter);
      setRetentionHeader(res, retention);
      const csv = format === 'csv' ? new CsvWriter<LogRow>(CSV_COLUMNS, { neutraliseFormulas: this.config.CSV_FORMULA_ESCAPE }) : undefined;
      const encoder = new ExportEncoder<LogRow>(csv ? (row) => csv.line(row) : ndjsonLine, csv?.header ?? '', EXPORT_BATCH_LINES);
      return exportResponse(rows, encoder, EXPORT_CONTENT_TYPES[format], `logs.${format}`, this.logger, 'log lines');
    }
    const limit = q.limit ?? DEFAULT_LOGS_PAGE;
    if (q.cursor !== undefined) {
      const [id] = decodeKeyset(q.cursor, ['text']);
      if (!/^\d{1,18}$/.test(id)) throw ApiException.invalidParameter('cursor', 'is not a cursor issued by this API');
      filter.afterId = id;
    }
    const rows = await this.logs.page({ ...filter, limit: limit + 1 });
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    setRetentionHeader(res, retention);
    const body: LogsPageDto = { lines: page.map(({ id: _id, ...line }) => line), next_cursor: more ? encodeKeyset([page[page.length - 1].id]) : null };
    return retention ? { ...body, retention } : body;
  }

  @Get('tags')
  @ApiOperation({ summary: 'Lines per tag over every loaded plain-text file' })
  @ApiOkResponse({ type: LogTagsDto })
  tags(): Promise<LogTagsDto> {
    return this.logs.tags();
  }
}
