import type { Type } from '@nestjs/common';
import { JsonDocumentLoader } from './json/json-document.loader';
import { NdjsonLoader } from './json/ndjson.loader';
import type { KindLoader } from './kind-loader';
import { LogLinesLoader } from './log/log-lines.loader';
import { SensorCsvLoader } from './sensor/sensor-csv.loader';

/** Every kind loader: LoadingModule provides each and hands them all to LoaderRegistry (LOADERS). */
export const KIND_LOADERS: ReadonlyArray<Type<KindLoader>> = [SensorCsvLoader, JsonDocumentLoader, NdjsonLoader, LogLinesLoader];
