import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { SEED_PAYLOAD_EXAMPLE } from './seed-payload.example';

const timestamp = (example: string, description: string): SchemaObject => ({ type: 'string', format: 'date-time', example, description });

const vehicleStatusItem: SchemaObject = {
  type: 'object',
  required: ['vehicle_id', 'report_time', 'status'],
  additionalProperties: false,
  properties: {
    vehicle_id: { type: 'string', minLength: 1, maxLength: 128, example: 'veh-0007' },
    report_time: timestamp('2022-05-05T22:02:34.546Z', 'ISO-8601 with an offset'),
    status: { type: 'string', minLength: 1, maxLength: 64, example: 'driving' },
  },
};

const detectionEventItem: SchemaObject = {
  type: 'object',
  required: ['vehicle_id', 'detection_time', 'detections'],
  additionalProperties: false,
  properties: {
    vehicle_id: { type: 'string', minLength: 1, maxLength: 128, example: 'veh-0007' },
    detection_time: timestamp('2022-05-05T22:02:34.546Z', 'ISO-8601 with an offset'),
    detections: {
      type: 'array',
      items: {
        type: 'object',
        required: ['object_type', 'object_value'],
        additionalProperties: false,
        properties: { object_type: { type: 'string', minLength: 1, maxLength: 64, example: 'cars' }, object_value: { type: 'integer', minimum: 0, example: 2 } },
      },
    },
  },
};

/** SPEC §4.4: `time_stamp` with an offset, `data` a non-empty list of finite numbers. */
export const MEASUREMENT_SCHEMA: SchemaObject = {
  title: 'Measurement',
  type: 'object',
  required: ['time_stamp', 'data'],
  additionalProperties: false,
  properties: {
    time_stamp: timestamp('2019-05-01T06:00:00-04:00', 'ISO-8601 with an offset; stored converted to UTC (the primary key of measurements)'),
    data: { type: 'array', minItems: 1, items: { type: 'number' }, example: [0.37, 1.58, 2.18] },
  },
};

export const VEHICLE_STATUS_SCHEMA: SchemaObject = {
  title: 'VehicleStatusDocument',
  type: 'object',
  required: ['vehicle_status'],
  additionalProperties: false,
  properties: { vehicle_status: { type: 'array', items: vehicleStatusItem } },
};

export const DETECTIONS_SCHEMA: SchemaObject = {
  title: 'ObjectDetectionsDocument',
  type: 'object',
  required: ['objects_detection_events'],
  additionalProperties: false,
  properties: { objects_detection_events: { type: 'array', items: detectionEventItem } },
};

export const NDJSON_SCHEMA: SchemaObject = {
  title: 'Ndjson',
  type: 'string',
  description:
    'With Content-Type: application/x-ndjson: one JSON object a line, each with `kind`: `vehicle_status` (an item of a vehicle status document), ' +
    '`detection` (an item of a detections document), `measurement` (a measurement document) or `sensor_reading` (`sensor`, `ts` with offset, `value`).',
  example:
    '{"kind":"measurement","time_stamp":"2019-05-01T06:00:00-04:00","data":[0.37,1.58]}\n' +
    '{"kind":"vehicle_status","vehicle_id":"veh-1","report_time":"2022-05-05T22:02:34.546Z","status":"driving"}\n' +
    '{"kind":"sensor_reading","sensor":"b8:27:eb:bf:9d:51/temp","ts":"2020-07-12T00:01:34Z","value":22.7}\n',
};

export const INGEST_BODY_SCHEMA: SchemaObject = {
  oneOf: [MEASUREMENT_SCHEMA, VEHICLE_STATUS_SCHEMA, DETECTIONS_SCHEMA, NDJSON_SCHEMA],
  description: 'A JSON document of one kind (Content-Type: application/json) or NDJSON (Content-Type: application/x-ndjson).',
};

export const INGEST_BODY_EXAMPLES = {
  measurement: { summary: 'The seed measurement payload (fixtures/json/payload.json)', value: SEED_PAYLOAD_EXAMPLE },
  vehicle_status: { summary: 'Vehicle status', value: { vehicle_status: [{ vehicle_id: 'veh-0007', report_time: '2022-05-05T22:02:34.546Z', status: 'driving' }] } },
  detections: {
    summary: 'Object detections',
    value: { objects_detection_events: [{ vehicle_id: 'veh-0007', detection_time: '2022-05-05T22:02:34.546Z', detections: [{ object_type: 'cars', object_value: 2 }] }] },
  },
};

export const UPLOAD_BODY_SCHEMA: SchemaObject = {
  oneOf: [
    { type: 'object', title: 'Multipart', required: ['file'], properties: { file: { type: 'string', format: 'binary', description: 'The file (multipart/form-data field `file`).' } } },
    { type: 'string', format: 'binary', title: 'RawBody', description: 'The file as the raw body (any other Content-Type) with `?filename=`.' },
  ],
};
