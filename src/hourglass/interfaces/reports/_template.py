"""The static parts of the report page: stylesheet and skeleton."""

from __future__ import annotations

from ._charts import FONT_STACK, PALETTE

_CSS = """
:root {
  --ink: %(ink)s; --muted: %(muted)s; --line: %(line)s; --bg: %(bg)s; --card: %(card)s;
  --primary: %(primary)s; --primary-dark: %(primary_dark)s; --primary-light: %(primary_light)s;
  --tint: %(tint)s; --loss: %(loss)s; --loss-tint: %(loss_tint)s;
  --radius: 14px;
  --shadow: 0 1px 2px rgba(29, 32, 51, .05), 0 4px 16px rgba(29, 32, 51, .05);
}
* { box-sizing: border-box; }
html { scroll-behavior: smooth; -webkit-text-size-adjust: 100%%; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.55 %(font)s;
  font-variant-numeric: tabular-nums;
}
a { color: var(--primary); text-decoration: none; }
a:hover { text-decoration: underline; }
code { font: .85em/1.3 ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace; }
.page { max-width: 1240px; margin: 0 auto; padding: 32px 24px 64px; }
header.top { margin-bottom: 28px; }
.eyebrow {
  font-size: 12px; font-weight: 600; letter-spacing: .08em; text-transform: uppercase;
  color: var(--primary);
}
h1 { font-size: clamp(26px, 3.2vw, 36px); line-height: 1.15; margin: 6px 0 6px; letter-spacing: -.02em; }
h2 { font-size: 22px; line-height: 1.25; margin: 0; letter-spacing: -.01em; }
h3 {
  font-size: 13px; font-weight: 600; letter-spacing: .05em; text-transform: uppercase;
  color: var(--muted); margin: 26px 0 10px;
}
.lede { color: var(--muted); margin: 0; }
.layout { display: grid; grid-template-columns: 210px minmax(0, 1fr); gap: 28px; align-items: start; }
nav.toc {
  position: sticky; top: 20px; background: var(--card); border-radius: var(--radius);
  box-shadow: var(--shadow); padding: 16px 10px;
}
nav.toc .toc-title { font-size: 12px; font-weight: 600; letter-spacing: .06em; text-transform: uppercase;
  color: var(--muted); padding: 0 10px 8px; }
nav.toc ol { list-style: none; margin: 0; padding: 0; }
nav.toc a {
  display: flex; justify-content: space-between; gap: 8px; padding: 6px 10px; border-radius: 8px;
  color: var(--ink); font-size: 14px;
}
nav.toc a:hover { background: var(--tint); text-decoration: none; }
nav.toc .toc-value { color: var(--muted); font-size: 13px; white-space: nowrap; }
main { min-width: 0; }
.card {
  background: var(--card); border-radius: var(--radius); box-shadow: var(--shadow);
  padding: 26px 28px; margin-bottom: 24px; scroll-margin-top: 16px;
}
.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; }
.stat { background: var(--bg); border-radius: 10px; padding: 12px 14px; min-width: 0; }
.stat .k { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .05em; }
.stat .v { font-size: 22px; font-weight: 650; margin-top: 2px; overflow-wrap: break-word; line-height: 1.25; }
.stat .v.small { font-size: 16px; }
.stat.loss .v { color: var(--loss); }
.multiples { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 14px; }
a.multiple {
  display: block; border: 1px solid var(--line); border-radius: 12px; padding: 14px 16px;
  color: var(--ink); transition: border-color .15s, box-shadow .15s;
}
a.multiple:hover { border-color: var(--primary-light); box-shadow: var(--shadow); text-decoration: none; }
.multiple .name { font-weight: 600; overflow-wrap: anywhere; }
.multiple .big {
  font-size: 26px; font-weight: 700; color: var(--primary-dark); line-height: 1.2; margin-top: 4px;
}
.multiple .sub { font-size: 12.5px; color: var(--muted); }
.mini { margin-top: 10px; display: grid; gap: 3px; }
.mini span {
  display: block; margin: 0 auto; height: 7px; border-radius: 4px; min-width: 2px;
  background: var(--primary-light);
}
.mini span.hot { background: var(--loss); }
.section-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 8px 14px; margin-bottom: 6px; }
.badge {
  display: inline-block; font-size: 12px; font-weight: 600; padding: 2px 10px; border-radius: 999px;
  background: var(--tint); color: var(--primary-dark);
}
.badge.plain { background: var(--bg); color: var(--muted); font-weight: 500; }
.description { color: var(--muted); margin: 4px 0 18px; max-width: 75ch; }
.callout {
  margin: 18px 0 4px; padding: 12px 16px; border-radius: 10px; background: var(--loss-tint);
  border-left: 4px solid var(--loss); font-weight: 550;
}
.callout.calm { background: var(--tint); border-left-color: var(--primary); }
.chart { width: 100%%; min-height: 120px; }
.table-wrap { overflow-x: auto; margin: 0 -6px; }
table { border-collapse: collapse; width: 100%%; font-size: 14px; }
th, td { padding: 9px 10px; text-align: right; white-space: nowrap; border-bottom: 1px solid var(--line); }
th {
  font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .04em;
  border-bottom: 2px solid var(--line); vertical-align: bottom;
}
th.step, td.step { text-align: left; white-space: normal; min-width: 170px; }
th.count { white-space: normal; min-width: 90px; max-width: 150px; }
th.group { text-align: center; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
thead tr + tr th { padding-top: 4px; }
td .id { display: block; color: var(--muted); font-size: 12px; }
tr.hot td { background-color: var(--loss-tint); }
tr.hot td.prev { color: var(--loss); font-weight: 650; }
.tag {
  display: inline-block; margin-left: 6px; font-size: 11px; font-weight: 600; color: #fff;
  background: var(--loss); border-radius: 999px; padding: 1px 8px; vertical-align: 1px;
}
.interval { color: var(--muted); font-size: 12.5px; }
tr.hot .interval { color: inherit; opacity: .8; }
details.meta { margin-top: 16px; color: var(--muted); font-size: 13.5px; }
details.meta summary { cursor: pointer; }
details.meta dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 10px 0 0; }
details.meta dt { font-weight: 600; }
details.meta dd { margin: 0; overflow-wrap: anywhere; }
.empty { color: var(--muted); font-style: italic; }
h4 { font-size: 13px; font-weight: 600; color: var(--ink); margin: 18px 0 8px; }
.stat .s { font-size: 12px; color: var(--muted); margin-top: 2px; line-height: 1.35; }
.stat.warn .v { color: #b45309; }
.stat.good .v { color: #0f766e; }
.stats + .stats { margin-top: 12px; }
.note { color: var(--muted); font-size: 13px; margin: 6px 0 0; max-width: 90ch; }
.note.warn { color: #b45309; }
.two { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 8px 28px; }
.two > div { min-width: 0; }
.hourglass-chart { max-width: 860px; margin: 0 auto; }
table.channels td, table.channels th { padding: 8px 7px; }
table.channels th, table.outcomes th, .two table th { white-space: normal; min-width: 52px; }
table.channels td.step { min-width: 90px; }
table.channels th.sale { color: #b45309; }
td.good { color: #0f766e; font-weight: 650; }
td.bad { color: var(--loss); font-weight: 650; }
tr.total td { font-weight: 650; background: var(--bg); }
ul.findings { margin: 4px 0 0; padding-left: 20px; }
ul.findings li { margin: 3px 0; }
.after-sale h3 { margin-top: 30px; }
.nm { color: var(--muted); }
.stat.nm { background: #f1f2f6; border: 1px dashed var(--line); }
.stat.nm .v { color: var(--muted); font-size: 16px; }
a.multiple.nm { background: #f6f7f9; border-style: dashed; }
.multiple.nm .big { color: var(--muted); font-size: 18px; }
.card.nm { background: #f6f7f9; box-shadow: none; border: 1px dashed var(--line); }
p.nm, li.nm { max-width: 90ch; }
td.nm { color: var(--muted); font-style: italic; text-align: left; white-space: normal; }
.counts { margin: 14px 0 0; padding: 12px 16px; border-radius: 10px; background: var(--tint);
  border-left: 4px solid var(--primary); max-width: 95ch; }
footer { color: var(--muted); font-size: 13px; text-align: center; margin-top: 8px; }
@media (max-width: 980px) {
  .layout { grid-template-columns: minmax(0, 1fr); }
  nav.toc { position: static; }
}
@media (max-width: 560px) {
  .page { padding: 20px 12px 48px; }
  .card { padding: 18px 16px; }
}
@media print {
  body { background: #fff; }
  nav.toc { display: none; }
  .layout { grid-template-columns: minmax(0, 1fr); }
  .card { box-shadow: none; border: 1px solid var(--line); break-inside: avoid; }
}
"""

CSS = (_CSS % {**PALETTE, "font": FONT_STACK}).strip()

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<meta name="generator" content="{generator}">
<title>{title}</title>
<style>
{css}
</style>
</head>
<body>
<div class="page">
{body}
</div>
<script>
{plotlyjs}
</script>
<script>
{calls}
</script>
</body>
</html>
"""
