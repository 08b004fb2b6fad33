// The dashboard's style sheet (app.css), kept as a string like the page (see dashboard.page.ts).

export const DASHBOARD_CSS = String.raw`
:root { --bg: #0f1419; --panel: #182028; --text: #e6edf3; --muted: #8b98a5; --ok: #3fb950; --warn: #d29922; --bad: #f85149; --info: #58a6ff; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--text); }
header { display: flex; align-items: center; gap: 12px; padding: 10px 20px; border-bottom: 1px solid #2a3540; }
h1 { font-size: 18px; margin: 0; }
h2 { font-size: 14px; margin: 18px 0 8px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
main, #login { padding: 0 20px 20px; }
.spacer { flex: 1; }
.muted { color: var(--muted); font-weight: normal; text-transform: none; letter-spacing: 0; }
.live { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #2a3540; }
.live.on { background: #12361d; color: var(--ok); }
.live.off { color: var(--warn); }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin-top: 16px; }
.card { background: var(--panel); border-radius: 6px; padding: 10px 14px; min-width: 120px; }
.card .n { font-size: 22px; font-weight: 600; }
.card .l { color: var(--muted); font-size: 12px; }
.folders { color: var(--muted); margin: 8px 0 0; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 24px; }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } }
table { width: 100%; border-collapse: collapse; background: var(--panel); border-radius: 6px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #2a3540; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 260px; }
th { color: var(--muted); font-weight: normal; font-size: 12px; }
td.empty { color: var(--muted); font-style: italic; }
.badge { font-size: 12px; padding: 1px 6px; border-radius: 8px; background: #2a3540; }
.s-processed { color: var(--ok); } .s-duplicate { color: var(--info); } .s-quarantined, .s-failed { color: var(--bad); }
.s-queued, .s-processing { color: var(--warn); }
ol.errors, ol.activity { list-style: none; margin: 0; padding: 0; background: var(--panel); border-radius: 6px; max-height: 300px; overflow: auto; }
ol.errors li, ol.activity li { padding: 6px 8px; border-bottom: 1px solid #2a3540; }
ol.errors .reason { color: var(--bad); }
ol.errors .rows { color: var(--muted); font-size: 12px; margin: 2px 0 0 12px; }
ol.activity li { font-size: 12px; font-family: ui-monospace, monospace; }
ol.activity li.muted { font-family: inherit; }
.chart { background: var(--panel); border-radius: 6px; padding: 8px; min-height: 240px; }
.sensor-form { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin-bottom: 8px; }
input, select, button { font: inherit; background: #0b0f13; color: var(--text); border: 1px solid #2a3540; border-radius: 4px; padding: 4px 8px; }
button { cursor: pointer; background: #1f6feb; border-color: #1f6feb; }
button.link { background: none; border: none; color: var(--muted); text-decoration: underline; }
#login form { display: flex; gap: 8px; max-width: 480px; }
#login input { flex: 1; }
.u-legend { color: var(--text); }
.tags { display: flex; flex-wrap: wrap; gap: 6px; margin: 0 0 8px; }
#log-lines td.msg { max-width: 640px; font-family: ui-monospace, monospace; font-size: 12px; }
.t-error, .t-err, .t-fatal, .t-critical, .t-crit, .t-alert, .t-emerg, .t-severe { color: var(--bad); }
.t-warn, .t-warning { color: var(--warn); }
.t-info, .t-notice { color: var(--info); }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
/* Tracks never grow past the card for a long word (a partition's name in an error): the fact wraps instead. */
.grid.storage { align-items: start; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
@media (max-width: 900px) { .grid.storage { grid-template-columns: minmax(0, 1fr); } }
dl.facts { margin: 0; background: var(--panel); border-radius: 6px; padding: 6px 12px; display: grid; grid-template-columns: max-content minmax(0, 1fr); column-gap: 16px; }
dl.facts dt { color: var(--muted); padding: 5px 0; border-bottom: 1px solid #2a3540; }
dl.facts dd { margin: 0; padding: 5px 0; border-bottom: 1px solid #2a3540; overflow-wrap: anywhere; }
dl.facts .bad { color: var(--bad); }
`;
