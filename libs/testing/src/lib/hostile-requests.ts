// The hostile corpus's HTTP cases, sent as their clients would: plain, over limits, aborted, slow, concurrent.
import { request } from 'node:http';
import { connect } from 'node:net';
import { wideCsv } from './sensor-data';
import type { Stack } from './stack';
import { hostileBytes, HOSTILE_SSE_CLIENTS, type CorpusScale, type HostileCase } from './hostile-cases';

export interface HttpOutcome {
  status: number;
  body: string;
  headers?: Record<string, string | string[] | undefined>;
}

function keyHeader(stack: Stack, c: HostileCase): Record<string, string> {
  switch (c.key ?? (c.channel === 'query' ? 'query' : 'ingest')) {
    case 'ingest':
      return { 'x-api-key': stack.ingestKey };
    case 'query':
      return { 'x-api-key': stack.queryKey };
    case 'wrong':
      return { 'x-api-key': 'not-a-key' };
    case 'none':
      return {};
  }
}

function multipart(parts: Array<{ name: string; filename?: string; body: string }>, close = true): { body: Buffer; type: string } {
  const b = 'hostileBoundary7MA4YWxk';
  const text = parts.map((p) => `--${b}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}\r\n\r\n${p.body}\r\n`).join('') + (close ? `--${b}--\r\n` : '');
  return { body: Buffer.from(text), type: `multipart/form-data; boundary=${b}` };
}

/** Sends one HTTP case; generated bodies (limits, aborts, multipart) are built here. */
export async function sendHostile(stack: Stack, c: HostileCase, scale: CorpusScale, limits: { maxUploadBytes: number; maxIngestBodyBytes: number }): Promise<HttpOutcome> {
  if (c.repeat) {
    await sendHostile(stack, { ...c, repeat: undefined }, scale, limits);
    return sendHostile(stack, { ...c, repeat: undefined, body: c.repeat.body ?? c.body, path: c.repeat.path ?? c.path, headers: { ...c.headers, ...c.repeat.headers } }, scale, limits);
  }
  if (c.generate === 'slow-headers') return slowHeaders(stack, c);
  if (c.generate === 'concurrent-large-bodies') return concurrentLargeBodies(stack, c, limits);
  if (c.generate === 'sse-over-max-clients') return sseOverMaxClients(stack, c);
  const service = c.channel === 'query' ? 'query-api' : 'ingest-api';
  const url = new URL(c.path ?? '/', stack.url(service));
  const headers: Record<string, string> = { ...keyHeader(stack, c), ...c.headers };
  let body: Buffer | undefined = c.file || c.generate === 'csv' ? hostileBytes(c, scale) : c.body !== undefined ? Buffer.from(c.body) : undefined;
  let abortAfter: number | undefined;
  const csv = Buffer.from(wideCsv({ lines: 20, devices: [`h-${c.id}`], startEpoch: 1_630_000_000 }));
  switch (c.generate ?? '') {
    case 'multipart-two-files':
    case 'multipart-no-file':
    case 'multipart-truncated': {
      const parts = c.generate === 'multipart-no-file' ? [{ name: 'note', body: 'hello' }] : [{ name: 'file', filename: 'a.csv', body: csv.toString() }, { name: 'file', filename: 'b.csv', body: csv.toString().replace(/h-/g, 'h2-') }];
      const mp = multipart(c.generate === 'multipart-truncated' ? parts.slice(0, 1) : parts, c.generate !== 'multipart-truncated');
      body = c.generate === 'multipart-truncated' ? mp.body.subarray(0, mp.body.length - 40) : mp.body;
      headers['content-type'] = mp.type;
      break;
    }
    case 'declared-over-limit':
      // Only the headers: the answer must come from Content-Length alone, before any byte of the body.
      headers['content-type'] = 'text/csv';
      headers['content-length'] = String(limits.maxUploadBytes + 1);
      body = Buffer.alloc(0);
      break;
    case 'streamed-over-limit':
      headers['content-type'] = 'text/csv';
      // Chunked, so no Content-Length can refuse it up front (declared-over-limit covers that): the limit must
      // be found by counting. One byte over, so the whole body is sent before the refusal and no reset races it.
      headers['transfer-encoding'] = 'chunked';
      body = Buffer.alloc(limits.maxUploadBytes + 1, 0x41);
      break;
    case 'ingest-over-limit':
      body = Buffer.from(JSON.stringify({ time_stamp: '2019-06-01T06:00:00-04:00', data: Array.from({ length: Math.ceil(limits.maxIngestBodyBytes / 4) + 10 }, () => 1.5) }));
      break;
    case 'multipart-many-fields': {
      // More fields before the file part than are read (20): refused saying so, not as "no field named file".
      const mp = multipart([...Array.from({ length: 25 }, (_, i) => ({ name: `note${i}`, body: `value ${i}` })), { name: 'file', filename: 'many-fields.csv', body: csv.toString() }]);
      body = mp.body;
      headers['content-type'] = mp.type;
      break;
    }
    case 'aborted-ingest': {
      const doc = Buffer.from(JSON.stringify({ time_stamp: '2019-08-09T06:00:00Z', data: Array.from({ length: 20000 }, () => 1.5) }));
      headers['content-length'] = String(doc.length);
      body = doc.subarray(0, doc.length >> 1);
      abortAfter = 300;
      break;
    }
    case 'aborted-upload':
      headers['content-type'] = 'text/csv';
      headers['content-length'] = String(csv.length * 100);
      body = csv;
      abortAfter = 300;
      break;
    case 'aborted-multipart': {
      const mp = multipart([{ name: 'file', filename: 'aborted.csv', body: csv.toString().repeat(50) }]);
      headers['content-type'] = mp.type;
      headers['content-length'] = String(mp.body.length);
      body = mp.body.subarray(0, mp.body.length >> 1);
      abortAfter = 300;
      break;
    }
  }
  return new Promise<HttpOutcome>((resolve) => {
    const req = request(url, { agent: false, method: c.method ?? 'GET', headers: { ...headers, ...(body && !headers['content-length'] && !headers['transfer-encoding'] ? { 'content-length': String(body.length) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    // A server may answer (413) and close while the body is still being written: the write fails, yet the
    // answer may still be on its way, so an error only settles the outcome if no response follows.
    req.on('error', () => setTimeout(() => resolve({ status: 0, body: '' }), 500));
    if (c.generate === 'declared-over-limit') {
      req.flushHeaders();
      req.on('response', (res) => res.once('end', () => req.destroy()));
      return;
    }
    if (abortAfter === undefined) {
      req.end(body);
      return;
    }
    if (body?.length) req.write(body);
    // The client gives up half-way: the server sees the connection close before the declared length.
    setTimeout(() => {
      if (c.generate?.startsWith('aborted-')) req.destroy();
      else req.end();
    }, abortAfter);
    if (c.generate?.startsWith('aborted-')) setTimeout(() => resolve({ status: 0, body: '' }), abortAfter + 50);
  });
}

/**
 * Slowloris: the request line and one header, then another header line every 200 ms, never the blank line
 * that ends them. The server must answer (408) and close on its own; the client stops after 60 s.
 */
function slowHeaders(stack: Stack, c: HostileCase): Promise<HttpOutcome> {
  const url = new URL(c.path ?? '/', stack.url(c.channel === 'query' ? 'query-api' : 'ingest-api'));
  return new Promise<HttpOutcome>((resolve) => {
    let received = '';
    let n = 0;
    const socket = connect(Number(url.port), url.hostname, () => socket.write(`${c.method ?? 'GET'} ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\n`));
    const trickle = setInterval(() => socket.write(`X-Slow-${++n}: ${n}\r\n`), 200);
    const giveUp = setTimeout(() => socket.destroy(), 60000);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (received += d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(trickle);
      clearTimeout(giveUp);
      const [head, ...rest] = received.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), body: rest.join('\r\n\r\n') });
    });
  });
}

/** Six JSON bodies near MAX_INGEST_BODY_BYTES at once: 202 when every one is stored, else the first other answer. */
async function concurrentLargeBodies(stack: Stack, c: HostileCase, limits: { maxIngestBodyBytes: number }): Promise<HttpOutcome> {
  const values = Math.floor((limits.maxIngestBodyBytes * 0.9) / 8);
  const bodies = Array.from({ length: 6 }, (_, i) => JSON.stringify({ time_stamp: `2019-08-${String(10 + i).padStart(2, '0')}T06:00:00Z`, data: Array.from({ length: values }, (_, j) => 10 + (j % 89) / 10) }));
  const answers = await Promise.all(
    bodies.map((body) => fetch(new URL(c.path ?? '/ingest', stack.url('ingest-api')), { method: 'POST', body, headers: { ...keyHeader(stack, c), ...c.headers } }).then(async (r) => ({ status: r.status, body: await r.text() }))),
  );
  return answers.find((a) => a.status !== 202) ?? { status: 202, body: answers[0].body };
}

/** Fills the query-api's MAX_SSE_CLIENTS with open /events streams, then answers what one more gets. */
async function sseOverMaxClients(stack: Stack, c: HostileCase): Promise<HttpOutcome> {
  const url = new URL(c.path ?? '/events', stack.url('query-api'));
  const headers = keyHeader(stack, c);
  const streams: AbortController[] = [];
  try {
    for (let i = 0; i < HOSTILE_SSE_CLIENTS; i++) {
      const abort = new AbortController();
      streams.push(abort);
      const res = await fetch(url, { headers, signal: abort.signal });
      if (res.status !== 200) return { status: res.status, body: `stream ${i + 1} of ${HOSTILE_SSE_CLIENTS} was refused: ${await res.text()}` };
    }
    const res = await fetch(url, { headers });
    return { status: res.status, body: await res.text(), headers: Object.fromEntries(res.headers) };
  } finally {
    for (const s of streams) s.abort();
  }
}
