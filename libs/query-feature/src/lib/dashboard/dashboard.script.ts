import { DATA_TABLE_NOUNS, DATA_TABLES, READINGS_TABLE } from '@sluice/contracts';

// The dashboard's client script (app.js), kept as a string like the page (see dashboard.page.ts): plain
// browser JavaScript that avoids backticks and `${` so it can live in this template.

// What a row of each data table is called: readings have their own card, every other table one when it has rows.
const TABLE_NOUNS = JSON.stringify(DATA_TABLES.filter((t) => t !== READINGS_TABLE).map((t) => [t, DATA_TABLE_NOUNS[t].many]));

export const DASHBOARD_JS = String.raw`(function () {
  'use strict';
  var STATUSES = ['queued', 'processing', 'processed', 'duplicate', 'quarantined', 'failed'];
  var OTHER_TABLES = ` + TABLE_NOUNS + String.raw`;
  var $ = function (id) { return document.getElementById(id); };
  var activity = [];
  var activitySeeded = false;
  var refreshTimer = null;
  var source = null;
  var throughputPlot = null;
  var sensorPlot = null;
  var lastStats = null;
  var sensorTimer = null;
  var datasetsAt = 0;

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { if (k === 'text') e.textContent = attrs[k]; else e.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) { e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function badge(status) { return el('span', { 'class': 'badge s-' + status, text: status }); }
  function fmtMs(ms) {
    if (ms === null || ms === undefined) return '–';
    if (ms < 1000) return Math.round(ms) + ' ms';
    if (ms < 120000) return (ms / 1000).toFixed(1) + ' s';
    return Math.round(ms / 60000) + ' min';
  }
  function fmtN(n) { return Number(n).toLocaleString('en-US'); }
  /** A short axis label: 12,500 → 12.5k. */
  function fmtShort(n) {
    var a = Math.abs(n);
    if (a >= 1e6) return Number((n / 1e6).toPrecision(3)) + 'M';
    if (a >= 1e3) return Number((n / 1e3).toPrecision(3)) + 'k';
    return String(Number(n.toPrecision(3)));
  }
  var API_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.(json|ndjson)$/;
  /** What a person reads for a file: its name; a REST payload (named by its id) says what it is instead. */
  function fileLabel(name, kind) {
    if (!name) return 'a file (name not known yet)';
    var api = API_NAME.exec(name);
    if (!api) return name;
    return 'REST ' + (kind ? kind.replace(/_/g, ' ') : api[1].toUpperCase()) + ' payload';
  }
  function fmtTime(iso) { return iso ? new Date(iso).toLocaleTimeString('en-GB') : ''; }

  function api(path) {
    return fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } }).then(function (res) {
      if (res.status === 401 || res.status === 403) { showLogin(res.status === 403 ? 'That key belongs to the ingest API; enter a query API key.' : null); throw new Error('unauthorised'); }
      if (!res.ok) throw new Error(path + ': HTTP ' + res.status);
      return res.json();
    });
  }

  function showLogin(message) {
    $('app').hidden = true;
    $('logout').hidden = true;
    $('login').hidden = false;
    if (message) $('login-message').textContent = message;
    if (source) { source.close(); source = null; }
    setLive(false, 'no key');
  }

  function setLive(on, text) {
    var live = $('live');
    live.className = 'live ' + (on ? 'on' : 'off');
    live.textContent = text;
  }

  function renderStats(s) {
    lastStats = s;
    var counts = $('counts');
    counts.replaceChildren();
    STATUSES.forEach(function (st) {
      counts.appendChild(el('div', { 'class': 'card', 'data-status': st }, [el('div', { 'class': 'n s-' + st, text: fmtN(s.files_by_status[st]) }), el('div', { 'class': 'l', text: st })]));
    });
    counts.appendChild(el('div', { 'class': 'card', 'data-figure': 'rows_loaded', title: 'CSV lines and JSON items loaded, all files' }, [el('div', { 'class': 'n', text: fmtN(s.rows_loaded) }), el('div', { 'class': 'l', text: 'records loaded' })]));
    counts.appendChild(el('div', { 'class': 'card', 'data-figure': 'readings_loaded', title: 'Sensor readings written to raw_sensor_data (a wide CSV line is one reading per metric)' }, [el('div', { 'class': 'n', text: fmtN(s.readings_loaded) }), el('div', { 'class': 'l', text: 'readings written' })]));
    // The other tables' rows under their own names, each once it has any.
    OTHER_TABLES.forEach(function (t) {
      var n = s.rows_written_by_table[t[0]];
      if (n) counts.appendChild(el('div', { 'class': 'card', 'data-table': t[0], title: 'Rows written to ' + t[0] }, [el('div', { 'class': 'n', text: fmtN(n) }), el('div', { 'class': 'l', text: t[1] + ' written' })]));
    });
    counts.appendChild(el('div', { 'class': 'card', 'data-figure': 'rows_rejected' }, [el('div', { 'class': 'n', text: fmtN(s.rows_rejected) }), el('div', { 'class': 'l', text: 'records rejected' })]));
    counts.appendChild(el('div', { 'class': 'card', 'data-figure': 'rows_per_s', title: 'Records loaded by the files that finished in the last minute, per second (a replay counts again)' }, [el('div', { 'class': 'n', id: 'rows-per-s', text: fmtN(s.throughput.rows_per_s) }), el('div', { 'class': 'l', text: 'records/s (last minute)' })]));
    var f = s.folders;
    $('folders').textContent = (f.source === 'dropzone' ? 'Drop folder: ' : 'Ledger by folder: ') +
      Object.keys(f.counts).map(function (k) { return k + ' ' + fmtN(f.counts[k]); }).join(' · ') + (f.truncated ? ' (capped)' : '');
    $('rate').textContent = fmtN(s.throughput.rows_per_s) + ' records/s over the last ' + s.throughput.window_s + ' s';
    drawThroughput(s.throughput.series);
    if (s.storage) renderStorage(s.storage);
  }

  /** Bytes in binary units, as the byte-size settings take them. */
  function fmtBytes(b) {
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    var v = Number(b);
    var u = 0;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return u === 0 ? v + ' B' : (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : String(Math.round(v))) + ' ' + units[u];
  }
  function fmtWhen(iso) { return iso ? iso.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC') : ''; }
  var RETENTION_SHOWN = [['raw', 'raw readings'], ['hourly_aggregates', 'hourly aggregates'], ['daily_aggregates', 'daily aggregates'], ['logs', 'log lines'],
    ['processed_files', 'processed files'], ['quarantined_files', 'quarantined files'], ['payloads', 'stored bodies'], ['ledger', 'ledger rows']];

  /** The storage card: each table on disk, the oldest reading kept, retention and the maintenance runs. */
  function renderStorage(st) {
    $('storage-total').textContent = fmtBytes(st.total_bytes) + ' on disk · partitions by ' + st.partition_interval;
    fill($('storage').tBodies[0], st.tables.map(function (t) {
      var r = el('tr', { 'data-table': t.table }, [
        el('td', { text: t.table }),
        el('td', { 'class': 'num', text: fmtBytes(t.bytes) }),
        el('td', { 'class': 'num', text: t.partitions ? fmtN(t.partitions) : '–' }),
        el('td', { 'class': 'num', text: fmtN(t.estimated_rows) }),
      ]);
      return r;
    }), 'no tables', 4);
    var facts = $('storage-facts');
    facts.replaceChildren();
    function fact(key, label, value, cls) {
      facts.appendChild(el('dt', { 'data-fact': key, text: label }));
      facts.appendChild(el('dd', { 'data-fact': key, 'class': cls || '', text: value }));
    }
    fact('oldest_reading', 'oldest reading kept', st.oldest_reading ? fmtWhen(st.oldest_reading) : 'none');
    fact('retention', 'retention', RETENTION_SHOWN.map(function (r) { return r[1] + ' ' + (st.retention[r[0]] || 'kept'); }).join(' · '));
    var last = st.maintenance.last_run;
    fact('last_run', 'last maintenance', !last ? 'never run' : fmtWhen(last.finished_at) + ' (' + last.trigger + (last.dry_run ? ', dry run' : '') + ') · ' +
      (last.error ? 'failed: ' + last.error : fmtBytes(last.bytes_reclaimed) + (last.dry_run ? ' would be' : '') + ' reclaimed'), last && last.error ? 'bad' : '');
    fact('next_run', 'next maintenance', (st.maintenance.next_run ? fmtWhen(st.maintenance.next_run) : 'unknown') + ' (' + st.maintenance.cron + ')');
  }

  /** The datasets card: each data contract in force with its table's rows and files, then the contract files refused. */
  function renderDatasets(d) {
    $('datasets-note').textContent = d.datasets.length ? '(' + d.datasets.length + (d.datasets.length === 1 ? ' data contract)' : ' data contracts)') : '';
    fill($('datasets').tBodies[0], d.datasets.map(function (x) {
      var files = Object.keys(x.files).map(function (k) { return fmtN(x.files[k]) + ' ' + k; }).join(' · ') || '0';
      var rows = x.table_exists ? (x.rows_exact ? '' : '~') + fmtN(x.rows) : '0 (no table yet)';
      return el('tr', { 'data-dataset': x.name }, [
        el('td', { text: x.name }),
        el('td', { text: x.table }),
        el('td', { 'class': 'num', title: x.rows_exact ? 'counted' : 'the planner\'s estimate (over 100,000 rows)', text: rows }),
        el('td', { text: files }),
        el('td', { text: x.last_load_at ? fmtWhen(x.last_load_at) : 'never' }),
      ]);
    }), 'no data contract in force (see docs/contracts.md)', 5);
    var problems = $('contract-problems');
    problems.replaceChildren();
    d.problems.forEach(function (p) {
      problems.appendChild(el('li', { 'data-file': p.file }, [el('span', { 'class': 'badge s-quarantined', text: 'refused' }), ' ' + p.file + (p.line ? ':' + p.line : '') + (p.field ? ' ' + p.field : '') + ': ' + p.message]));
    });
  }

  function row(cells) { return el('tr', {}, cells.map(function (c) { return el('td', typeof c === 'string' ? { text: c } : {}, typeof c === 'string' ? [] : [c]); })); }
  function fill(tbody, rows, empty, width) {
    tbody.replaceChildren();
    if (rows.length === 0) tbody.appendChild(el('tr', {}, [el('td', { 'class': 'empty', colspan: String(width), text: empty })]));
    rows.forEach(function (r) { tbody.appendChild(r); });
  }

  /** The heading counts the rows below it, whatever added them (a /trace refresh or a live event). */
  function countInFlight() {
    var n = $('in-flight').tBodies[0].querySelectorAll('tr[data-file-id]').length;
    $('in-flight-count').textContent = n ? '(' + n + ')' : '';
  }

  function renderTrace(t) {
    fill($('in-flight').tBodies[0], t.in_flight.map(function (f) {
      var r = row([fileLabel(f.original_name, f.kind), badge(f.status), fmtMs(f.wait_ms), fmtMs(f.processing_ms)]);
      r.setAttribute('data-file-id', f.id);
      return r;
    }), 'nothing in flight', 4);
    countInFlight();
    fill($('finished').tBodies[0], t.finished.map(function (f) {
      var r = row([fileLabel(f.original_name, f.kind), badge(f.status), fmtN(f.rows_loaded) + (f.rows_rejected ? ' (' + fmtN(f.rows_rejected) + ' rejected)' : ''), fmtMs(f.total_ms)]);
      r.setAttribute('data-file-id', f.id);
      return r;
    }), 'nothing finished yet', 4);
  }

  function renderErrors(e) {
    var list = $('errors');
    list.replaceChildren();
    if (e.errors.length === 0) list.appendChild(el('li', { 'class': 'muted', text: 'no quarantines or failures' }));
    e.errors.forEach(function (f) {
      var reason = f.error ? f.error.rule + ': ' + f.error.message : 'no reason recorded';
      var li = el('li', { 'data-file-id': f.id }, [badge(f.status), ' ', el('strong', { text: fileLabel(f.original_name, f.kind) }), ' ', el('span', { 'class': 'muted', text: fmtTime(f.at) }), el('div', { 'class': 'reason', text: reason })]);
      f.first_row_errors.forEach(function (r) {
        li.appendChild(el('div', { 'class': 'rows', text: 'line ' + (r.line === null ? '?' : r.line) + (r.column ? ' [' + r.column + ']' : '') + ' ' + r.rule + ': ' + r.message }));
      });
      list.appendChild(li);
    });
  }

  /** A tag as a badge; known levels get their colour (the class is chosen from a fixed list, never from data). */
  var LEVEL_CLASS = { error: 't-error', err: 't-err', fatal: 't-fatal', critical: 't-critical', crit: 't-crit', alert: 't-alert', emerg: 't-emerg', severe: 't-severe', warn: 't-warn', warning: 't-warning', info: 't-info', notice: 't-notice' };
  function tagBadge(tag, text) {
    return el('span', { 'class': 'badge ' + (Object.prototype.hasOwnProperty.call(LEVEL_CLASS, tag) ? LEVEL_CLASS[tag] : ''), 'data-tag': tag, text: text });
  }

  function renderLogs(page, tags) {
    var list = $('log-tags');
    list.replaceChildren();
    tags.tags.forEach(function (t) { list.appendChild(tagBadge(t.tag, t.tag + ' ' + fmtN(t.lines))); });
    $('log-note').textContent = tags.files ? fmtN(tags.lines) + ' lines from ' + fmtN(tags.files) + (tags.files === 1 ? ' file' : ' files') : '';
    fill($('log-lines').tBodies[0], page.lines.map(function (l) {
      var msg = el('td', { 'class': 'msg', title: l.message, text: l.message });
      var r = el('tr', {}, [el('td', { text: l.ts ? new Date(l.ts).toLocaleString('en-GB') : '–' }), el('td', { text: l.file_name }), el('td', { text: String(l.line) }), el('td', {}, l.tag ? [tagBadge(l.tag, l.tag)] : []), msg]);
      r.setAttribute('data-file-id', l.file_id);
      return r;
    }), 'no log lines loaded yet', 5);
  }

  function refresh() {
    // The datasets' figures count rows: read at most every 10 s, however busy the pipeline.
    var datasets = Date.now() - datasetsAt >= 10000;
    if (datasets) datasetsAt = Date.now();
    return Promise.all([api('/stats'), api('/trace'), api('/errors?limit=10'), api('/logs?limit=15'), api('/logs/tags'), datasets ? api('/datasets') : null]).then(function (r) {
      renderStats(r[0]); renderTrace(r[1]); renderErrors(r[2]); renderLogs(r[3], r[4]); seedActivity(r[1], r[2]);
      if (r[5]) renderDatasets(r[5]);
    }).catch(function (err) { if (err.message !== 'unauthorised') console.warn(err); });
  }
  /** A loaded file changes the picker's reading counts and maybe the drawn range: both again, at most every 2 s. */
  function sensorsSoon() {
    if (sensorTimer) return;
    sensorTimer = setTimeout(function () { sensorTimer = null; loadSensors().then(function () { drawSensor(); }); }, 2000);
  }
  function refreshSoon() {
    if (refreshTimer) return;
    // At most five refreshes a second however busy the pipeline; each event itself shows at once.
    refreshTimer = setTimeout(function () { refreshTimer = null; refresh(); }, 200);
  }

  /** One line of the Activity panel: a file's change of status, with its records or its reason. */
  function activityLine(fileId, status, at, name, kind, rowsLoaded, durationMs, error) {
    var detail = '';
    if (status === 'processed') detail += ' · ' + fmtN(rowsLoaded || 0) + ' records' + (durationMs !== undefined && durationMs !== null ? ' in ' + fmtMs(durationMs) : '');
    if (error) detail += ' · ' + error.rule + ': ' + error.message;
    var label = el('span', { 'class': 'name', text: fileLabel(name, kind) });
    return el('li', { 'data-file-id': fileId, 'data-status': status }, [badge(status), ' ' + fmtTime(at) + ' ' + status + ' ', label, detail]);
  }

  /**
   * What the panel shows before any live event: the files /trace knows (in flight, and the last finished
   * with the reasons /errors gives), each at its latest change, newest first, under the live events that
   * came meanwhile; or a line saying there has been none. Once, on the page's first data.
   */
  function seedActivity(t, e) {
    if (activitySeeded) return;
    activitySeeded = true;
    var list = $('activity');
    var note = $('activity-note');
    if (note) note.remove();
    var live = {};
    Array.prototype.forEach.call(list.querySelectorAll('li[data-file-id]'), function (li) { live[li.getAttribute('data-file-id')] = true; });
    var reasons = {};
    e.errors.forEach(function (f) { reasons[f.id] = f.error; });
    var known = t.in_flight.concat(t.finished).filter(function (f) { return !live[f.id]; }).map(function (f) {
      return { f: f, at: f.finished_at || f.started_at || f.created_at };
    });
    known.sort(function (a, b) { return Date.parse(b.at) - Date.parse(a.at); });
    if (known.length > 0) list.appendChild(el('li', { 'class': 'muted', id: 'activity-earlier', text: 'before this page opened, from the ledger:' }));
    known.forEach(function (k) {
      var f = k.f;
      list.appendChild(activityLine(f.id, f.status, k.at, f.original_name, f.kind, f.rows_loaded, f.processing_ms, reasons[f.id]));
    });
    if (list.children.length === 0) list.appendChild(el('li', { 'class': 'muted', id: 'activity-note', text: 'no activity yet: each file that arrives shows here as it is queued, processed or refused' }));
  }

  function onEvent(ev) {
    var e;
    try { e = JSON.parse(ev.data); } catch (err) { return; }
    var li = activityLine(e.fileId, e.status, e.at, e.originalName, e.kind, e.rowsLoaded, e.durationMs, e.error);
    var list = $('activity');
    if (activitySeeded && $('activity-note')) $('activity-note').remove();
    list.insertBefore(li, list.firstChild);
    e.receivedAt = Date.now();
    activity.push(e);
    showInFlight(e);
    while (list.children.length > 50) list.removeChild(list.lastChild);
    // The first loaded file brings the first sensors: fill the picker and draw one.
    if (e.status === 'processed' && !$('sensor').value) loadSensors().then(function () { drawSensor(); });
    else if (e.status === 'processed') sensorsSoon();
    refreshSoon();
  }

  /** Moves a file into or out of the in-flight table at once; the next /trace refresh fills in the times. */
  function showInFlight(e) {
    var tbody = $('in-flight').tBodies[0];
    var existing = tbody.querySelector('tr[data-file-id="' + e.fileId + '"]');
    if (e.status !== 'queued' && e.status !== 'processing') {
      if (existing) existing.remove();
      if (!tbody.querySelector('tr[data-file-id]')) fill(tbody, [], 'nothing in flight', 4);
      countInFlight();
      return;
    }
    var r = row([fileLabel(e.originalName, e.kind), badge(e.status), existing ? existing.cells[2].textContent : 'just now', '–']);
    r.setAttribute('data-file-id', e.fileId);
    var empty = tbody.querySelector('td.empty');
    if (empty) empty.parentNode.remove();
    if (existing) tbody.replaceChild(r, existing); else tbody.appendChild(r);
    countInFlight();
  }

  function connect() {
    if (source) source.close();
    source = new EventSource('/events');
    source.onopen = function () { setLive(true, 'live'); refreshSoon(); };
    source.onmessage = onEvent;
    source.onerror = function () {
      setLive(false, 'reconnecting…');
      // EventSource retries by itself; a 401 closes it for good, so find out which.
      if (source && source.readyState === EventSource.CLOSED) api('/stats?series=false').then(function () { setTimeout(connect, 2000); }).catch(function () {});
    };
  }

  var axisStyle = { stroke: '#8b98a5', grid: { stroke: '#2a3540' }, ticks: { stroke: '#2a3540' } };

  /**
   * A legend value: the hovered point's, or with nothing hovered the latest point's (where uPlot's own
   * shows "--"); the time says "(latest)" then. No points: the time says so and the values are blank.
   */
  function legendValue(fmt, isTime) {
    return function (u, v, sidx, idx) {
      var latest = idx === null || idx === undefined;
      if (latest) {
        idx = u.data[0].length - 1;
        if (idx < 0) return isTime ? 'no points' : '';
        v = u.data[sidx][idx];
      }
      if (v === null || v === undefined) return '';
      return fmt(v) + (isTime && latest ? ' (latest)' : '');
    };
  }
  function fmtValue(v) { return String(Number(v.toPrecision(6))); }
  var clockLegend = legendValue(function (t) { return new Date(t * 1000).toLocaleTimeString('en-GB'); }, true);
  // Year first: day/month and month/day orders read alike.
  var dateLegend = legendValue(function (t) { return localInput(new Date(t * 1000)).replace('T', ' '); }, true);

  function chartWidth(id) { return Math.max(300, $(id).clientWidth - 16); }

  function drawThroughput(series) {
    var xs = series.map(function (p) { return Date.parse(p.t) / 1000; });
    var ys = series.map(function (p) { return p.rows_per_s; });
    if (throughputPlot) { throughputPlot.setData([xs, ys]); return; }
    throughputPlot = new uPlot({
      width: chartWidth('throughput-chart'), height: 200,
      series: [{ label: 'time', value: clockLegend }, { label: 'records/s', stroke: '#3fb950', fill: 'rgba(63,185,80,0.15)', width: 2, value: legendValue(fmtN) }],
      // Room for the widest label, and x ticks far enough apart that their labels never overlap.
      axes: [Object.assign({}, axisStyle, { space: 90 }), Object.assign({}, axisStyle, { size: 60, values: function (u, splits) { return splits.map(fmtShort); } })],
      scales: { y: { range: function (u, min, max) { return [0, Math.max(10, max * 1.1)]; } } },
    }, [xs, ys], $('throughput-chart'));
  }

  function localInput(d) { return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19); }
  function fromInput(v) { return v ? new Date(v).toISOString() : null; }

  function loadSensors() {
    return api('/sensors').then(function (sensors) {
      var select = $('sensor');
      var current = select.value;
      select.replaceChildren();
      sensors.forEach(function (s) {
        var label = s.name + ' (' + fmtN(s.reading_count) + ')';
        var o = el('option', { value: s.name, text: label });
        o.dataset.first = s.first_ts || '';
        o.dataset.last = s.last_ts || '';
        select.appendChild(o);
      });
      if (sensors.length === 0) { select.appendChild(el('option', { value: '', text: 'no sensors yet' })); return; }
      if (current && sensors.some(function (s) { return s.name === current; })) select.value = current;
      else { select.selectedIndex = 0; setRangeFromSensor(); }
    });
  }

  function setRangeFromSensor() {
    var o = $('sensor').selectedOptions[0];
    if (!o || !o.dataset.last) return;
    var last = new Date(o.dataset.last);
    var first = new Date(Math.max(Date.parse(o.dataset.first), last.getTime() - 24 * 3600 * 1000));
    $('from').value = localInput(first);
    $('to').value = localInput(new Date(last.getTime() + 1000));
  }

  function drawSensor(e) {
    if (e) e.preventDefault();
    var name = $('sensor').value;
    if (!name) return;
    var q = [];
    var from = fromInput($('from').value), to = fromInput($('to').value);
    if (from) q.push('from=' + encodeURIComponent(from));
    if (to) q.push('to=' + encodeURIComponent(to));
    var mode = $('series').value;
    var path = '/sensors/' + encodeURIComponent(name) + (mode === 'readings' ? '/readings?limit=10000&' : '/aggregates?bucket=hour&') + q.join('&');
    api(path).then(function (body) {
      var xs, series, data;
      if (mode === 'readings') {
        xs = body.readings.map(function (r) { return Date.parse(r.ts) / 1000; });
        data = [xs, body.readings.map(function (r) { return r.value; })];
        series = [{ label: 'time', value: dateLegend }, { label: name, stroke: '#58a6ff', width: 1.5, value: legendValue(fmtValue) }];
        $('sensor-note').textContent = fmtN(body.readings.length) + ' readings' + (body.next_cursor ? ' (first 10,000 of the range)' : '');
      } else {
        xs = body.aggregates.map(function (a) { return Date.parse(a.bucket_start) / 1000; });
        data = [xs, body.aggregates.map(function (a) { return a.mean; }), body.aggregates.map(function (a) { return a.min; }), body.aggregates.map(function (a) { return a.max; })];
        series = [{ label: 'hour', value: dateLegend }, { label: 'mean', stroke: '#58a6ff', width: 2, value: legendValue(fmtValue) }, { label: 'min', stroke: '#8b98a5', dash: [4, 4], value: legendValue(fmtValue) },
          { label: 'max', stroke: '#d29922', dash: [4, 4], value: legendValue(fmtValue) }];
        $('sensor-note').textContent = fmtN(body.aggregates.length) + ' hourly buckets';
      }
      if (sensorPlot) sensorPlot.destroy();
      // Small values (co, lpg) need more digits than uPlot's default ticks show.
      var yAxis = Object.assign({}, axisStyle, { size: 70, values: function (u, splits) { return splits.map(function (v) { return String(Number(v.toPrecision(4))); }); } });
      sensorPlot = new uPlot({ width: chartWidth('sensor-chart'), height: 260, series: series, axes: [Object.assign({}, axisStyle, { space: 90 }), yAxis] }, data, $('sensor-chart'));
    }).catch(function (err) { $('sensor-note').textContent = err.message; });
  }

  function start() {
    if (location.hash === '#key-refused') { history.replaceState(null, '', '/'); showLogin('That key was not accepted. Enter a query API key.'); return; }
    api('/stats').then(function (s) {
      $('login').hidden = true;
      $('app').hidden = false;
      $('logout').hidden = false;
      renderStats(s);
      refresh();
      connect();
      loadSensors().then(function () { drawSensor(); });
      setInterval(refresh, 10000);
      setInterval(loadSensors, 60000);
    }).catch(function () {});
    $('sensor').addEventListener('change', function () { setRangeFromSensor(); drawSensor(); });
    $('series').addEventListener('change', function () { drawSensor(); });
    $('sensor-form').addEventListener('submit', drawSensor);
    window.addEventListener('resize', function () {
      if (throughputPlot) throughputPlot.setSize({ width: chartWidth('throughput-chart'), height: 200 });
      if (sensorPlot) sensorPlot.setSize({ width: chartWidth('sensor-chart'), height: 260 });
    });
  }

  // For tests and the curious: the events heard, the /stats shown, and the charts as drawn.
  window.sluiceDashboard = { activity: activity, stats: function () { return lastStats; }, plots: function () { return { throughput: throughputPlot, sensor: sensorPlot }; } };
  start();
})();
`;
