export * from './lib/subjects';
export * from './lib/file-status';
export * from './lib/file-events';
export * from './lib/data-tables';
export * from './lib/messages';
export * from './lib/sql-identifier';
