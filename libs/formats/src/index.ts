export * from './lib/csv/delimiter.util';
export * from './lib/detect/detector';
export * from './lib/detect/detect-kind';
export * from './lib/sensor/sensor-csv.header';
export * from './lib/sensor/sensor-csv.parser';
export * from './lib/sensor/sensor-record';
export * from './lib/sensor/zoned-time.util';
