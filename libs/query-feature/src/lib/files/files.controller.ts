import { Controller, Get, HttpStatus, Param, ParseUUIDPipe, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiException, ApiKeyProtected, ApiNotFound } from '@sluice/http';
import { decodeLedgerCursor, encodeLedgerCursor } from '../http/cursor.util';
import { DEFAULT_FILES_PAGE, FileDetailDto, FilesPageDto, FilesQueryDto, REJECTED_ROWS_SHOWN } from './files.dto';
import { FilesRepository } from './files.repository';

const uuidPipe = new ParseUUIDPipe({
  errorHttpStatusCode: HttpStatus.BAD_REQUEST,
  exceptionFactory: () => ApiException.invalidParameter('id', 'must be a UUID'),
});

@ApiTags('files')
@ApiKeyProtected()
@Controller('files')
export class FilesController {
  constructor(private readonly files: FilesRepository) {}

  @Get()
  @ApiOperation({ summary: 'Ledger rows, newest first', description: 'Keyset pagination on (created_at, id): follow `next_cursor` until it is null.' })
  @ApiOkResponse({ type: FilesPageDto })
  async list(@Query() q: FilesQueryDto): Promise<FilesPageDto> {
    const limit = q.limit ?? DEFAULT_FILES_PAGE;
    const rows = await this.files.list({
      status: q.status,
      kind: q.kind,
      archiveId: q.archive_id,
      before: q.cursor === undefined ? undefined : decodeLedgerCursor(q.cursor),
      limit: limit + 1,
    });
    const more = rows.length > limit;
    const files = more ? rows.slice(0, limit) : rows;
    const last = files[files.length - 1];
    return { files, next_cursor: more ? encodeLedgerCursor(last.created_at, last.id) : null };
  }

  @Get(':id')
  @ApiOperation({ summary: `One ledger row with its counts, error and first ${REJECTED_ROWS_SHOWN} rejected rows` })
  @ApiParam({ name: 'id', format: 'uuid', example: '0b9d7c52-1f4e-4f0a-9d7e-6c3c1b2a4f10' })
  @ApiOkResponse({ type: FileDetailDto })
  @ApiNotFound('No file with that id.')
  async get(@Param('id', uuidPipe) id: string): Promise<FileDetailDto> {
    const file = await this.files.get(id);
    if (file === undefined) throw ApiException.notFound('file', id);
    return file;
  }
}
