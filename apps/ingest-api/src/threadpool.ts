// Imported first by main.ts, before anything touches the libuv thread pool. Every payload is fsynced on a
// pool thread; the default of 4 threads caps the fsyncs in flight, and concurrent fsyncs share journal commits.
process.env['UV_THREADPOOL_SIZE'] ??= '32';
