import { ApiProperty } from '@nestjs/swagger';

class ApiErrorDetailDto {
  @ApiProperty({ example: 'invalid_parameter', description: 'Stable code a program can match.' })
  code!: string;

  @ApiProperty({ example: 'invalid parameter from: from must be an ISO-8601 date or date-time, e.g. 2024-01-01T00:00:00Z' })
  message!: string;

  @ApiProperty({
    nullable: true,
    description: 'For invalid_parameter, the list of { parameter, message }; otherwise null or an object.',
    example: [{ parameter: 'from', message: 'from must be an ISO-8601 date or date-time, e.g. 2024-01-01T00:00:00Z' }],
  })
  details!: unknown;
}

/** The body of every error response. */
export class ApiErrorDto {
  @ApiProperty({ type: ApiErrorDetailDto })
  error!: ApiErrorDetailDto;
}
