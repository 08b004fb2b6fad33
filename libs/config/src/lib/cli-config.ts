import { IsOptional, IsString } from 'class-validator';
import { DropzoneConfig } from './app-configs';
import { IsUrlList } from './validators';

/**
 * The `sluice` CLI: the database, NATS and drop folder of the stack it works on (backfill, migrate,
 * replay, status), and the query API it reads through (retrieve-sensor-readings).
 */
export class CliConfig extends DropzoneConfig {
  @IsUrlList(['http', 'https'])
  QUERY_API_URL = 'http://localhost:3002';

  /** A query-api key; without it the CLI reads the local key `npm start` keeps in SLUICE_HOME. */
  @IsOptional()
  @IsString()
  QUERY_API_KEY?: string;

  /** The local data folder of `npm start` (api-keys.json). */
  @IsString()
  SLUICE_HOME = './.sluice';
}
