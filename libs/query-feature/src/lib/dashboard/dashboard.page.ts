// The dashboard's own files, kept as strings so that the page ships inside the bundle of the query-api
// (no front-end build, no asset copying): the page and its icon here, its style in dashboard.style.ts and
// its script in dashboard.script.ts.

export const DASHBOARD_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sluice dashboard</title>
<link rel="icon" href="/favicon.ico" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard/vendor/uPlot.min.css">
<link rel="stylesheet" href="/dashboard/app.css">
</head>
<body>
<header>
  <h1>Sluice</h1>
  <span id="live" class="live off" title="Live updates through /events">connecting…</span>
  <span class="spacer"></span>
  <form id="logout" method="post" action="/logout" hidden><button type="submit" class="link">forget key</button></form>
</header>

<section id="login" hidden>
  <h2>API key</h2>
  <p id="login-message">This dashboard reads the query API. Enter a query API key (the link printed by <code>npm start</code> does this for you).</p>
  <form method="post" action="/">
    <input name="key" type="password" autocomplete="current-password" placeholder="query API key" required>
    <button type="submit">Open dashboard</button>
  </form>
</section>

<main id="app" hidden>
  <section class="cards" id="counts"></section>
  <p class="folders" id="folders"></p>

  <div class="grid">
    <section>
      <h2>Files in flight <span class="muted" id="in-flight-count"></span></h2>
      <table id="in-flight"><thead><tr><th>file</th><th>status</th><th>waiting</th><th>processing</th></tr></thead><tbody></tbody></table>
      <h2>Recently finished</h2>
      <table id="finished"><thead><tr><th>file</th><th>status</th><th>records loaded</th><th>took</th></tr></thead><tbody></tbody></table>
    </section>
    <section>
      <h2>Recent errors</h2>
      <ol id="errors" class="errors"></ol>
      <h2>Activity <span class="muted">(live events)</span></h2>
      <ol id="activity" class="activity"><li class="muted" id="activity-note">loading the latest files…</li></ol>
    </section>
  </div>

  <section>
    <h2>Throughput <span class="muted" id="rate"></span></h2>
    <div id="throughput-chart" class="chart"></div>
  </section>

  <section id="storage-card">
    <h2>Storage <span class="muted" id="storage-total"></span></h2>
    <div class="grid storage">
      <table id="storage"><thead><tr><th>table</th><th class="num">on disk</th><th class="num">partitions</th><th class="num">rows (estimate)</th></tr></thead><tbody></tbody></table>
      <dl id="storage-facts" class="facts"></dl>
    </div>
  </section>

  <section id="datasets-card">
    <h2>Datasets <span class="muted" id="datasets-note"></span></h2>
    <table id="datasets"><thead><tr><th>dataset</th><th>table</th><th class="num">rows</th><th>files</th><th>last load</th></tr></thead><tbody></tbody></table>
    <ol id="contract-problems" class="errors"></ol>
  </section>

  <section>
    <h2>Log lines <span class="muted" id="log-note"></span></h2>
    <p class="tags" id="log-tags"></p>
    <table id="log-lines"><thead><tr><th>time</th><th>file</th><th>line</th><th>tag</th><th>message</th></tr></thead><tbody></tbody></table>
  </section>

  <section>
    <h2>Sensor</h2>
    <form id="sensor-form" class="sensor-form">
      <select id="sensor" aria-label="sensor"></select>
      <select id="series" aria-label="series">
        <option value="readings">readings</option>
        <option value="hour">hourly aggregates</option>
      </select>
      <label>from <input id="from" type="datetime-local" step="1"></label>
      <label>to <input id="to" type="datetime-local" step="1"></label>
      <button type="submit">Show</button>
      <span class="muted" id="sensor-note"></span>
    </form>
    <div id="sensor-chart" class="chart"></div>
  </section>
</main>
<script src="/dashboard/vendor/uPlot.iife.min.js"></script>
<script src="/dashboard/app.js"></script>
</body>
</html>
`;

/** The tab icon: a sluice gate over water. */
export const DASHBOARD_ICON = String.raw`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#0f1419"/><rect x="6" y="5" width="4" height="22" fill="#8b98a5"/><rect x="22" y="5" width="4" height="22" fill="#8b98a5"/><rect x="10" y="8" width="12" height="9" fill="#58a6ff"/><path d="M4 22q4-3 8 0t8 0 8 0v6H4z" fill="#3fb950"/></svg>`;
