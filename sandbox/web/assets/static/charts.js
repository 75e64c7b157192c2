// Charts drawn as SVG by hand: a line (with its area) for a series over
// time, and stacked bars for movements that add to or take from a total.
// The SVG scales to its container through its viewBox; colours come from
// the stylesheet's classes. A pointer over a chart shows the figures of the
// nearest entry in a tooltip.

import { h, s, replace } from './dom.js';

const W = 880;
const M = { top: 16, right: 16, bottom: 30, left: 76 };
const PW = W - M.left - M.right;

const axisMonth = new Intl.DateTimeFormat(undefined, { month: 'short', year: '2-digit', timeZone: 'UTC' });
const tipMonth = new Intl.DateTimeFormat(undefined, { month: 'long', year: 'numeric', timeZone: 'UTC' });

// niceTicks covers [lo, hi] with about count steps of 1, 2, 2.5 or 5 times
// a power of ten.
export function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) {
    hi = lo + (lo === 0 ? 100 : Math.abs(lo));
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
  const first = Math.floor(lo / step) * step;
  const last = Math.ceil(hi / step) * step;
  const ticks = [];
  for (let v = first; v <= last + step / 2; v += step) ticks.push(Math.abs(v) < step / 1e6 ? 0 : v);
  return { lo: first, hi: last, ticks };
}

function monthOf(d, format) {
  const t = new Date(`${d}T00:00:00Z`);
  return Number.isNaN(t.getTime()) ? d : format.format(t);
}

// The entries are monthly: each is labelled with its month.
const xLabel = (d) => monthOf(d, axisMonth);
const tipLabel = (d) => monthOf(d, tipMonth);

// frame draws the grid, the value axis and the date axis, and returns the
// svg with its y scale. H is the height in viewBox units (the width is W).
function frame({ id, label, entries, lo, hi, yFormat, xAt, H }) {
  const PH = H - M.top - M.bottom;
  const { lo: ylo, hi: yhi, ticks } = niceTicks(lo, hi, H < 240 ? 4 : 5);
  const y = (v) => M.top + PH - ((v - ylo) / (yhi - ylo)) * PH;
  const svg = s('svg', { id, class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, preserveAspectRatio: 'xMidYMid meet' });
  const grid = s('g', { class: 'grid' });
  for (const t of ticks) {
    grid.append(
      s('line', { x1: M.left, x2: W - M.right, y1: y(t), y2: y(t), class: t === 0 ? 'zero' : null }),
      s('text', { x: M.left - 10, y: y(t), class: 'y-label', 'text-anchor': 'end', 'dominant-baseline': 'middle' }, yFormat(t)));
  }
  const n = entries.length;
  const every = Math.max(1, Math.ceil(n / Math.floor(PW / 62)));
  const xs = s('g', { class: 'x-axis' });
  entries.forEach((e, i) => {
    if ((n - 1 - i) % every !== 0) return; // keep the latest entry labelled
    xs.append(s('text', { x: xAt(i), y: H - 8, 'text-anchor': 'middle', class: 'x-label' }, xLabel(e.date)));
  });
  svg.append(grid, xs);
  return { svg, y, ylo, yhi, PH };
}

// hover adds the tooltip behaviour: index(px) maps an x in viewBox units to
// an entry, tip(i) gives the tooltip's content, xAt(i) its position.
function hover(box, svg, PH, n, index, tip, xAt, onMove) {
  const tooltip = h('div', { class: 'tooltip', hidden: true });
  const guide = s('line', { class: 'guide', y1: M.top, y2: M.top + PH, x1: 0, x2: 0, visibility: 'hidden' });
  svg.append(guide);
  const move = (ev) => {
    const r = svg.getBoundingClientRect();
    const px = ((ev.clientX - r.left) / r.width) * W;
    if (px < M.left - 4 || px > W - M.right + 4) return leave();
    const i = Math.max(0, Math.min(n - 1, index(px)));
    guide.setAttribute('x1', xAt(i));
    guide.setAttribute('x2', xAt(i));
    guide.setAttribute('visibility', 'visible');
    if (onMove) onMove(i);
    replace(tooltip, tip(i));
    tooltip.hidden = false;
    const frac = xAt(i) / W;
    tooltip.classList.toggle('left', frac > 0.6);
    tooltip.style.left = `${frac * 100}%`;
  };
  const leave = () => {
    tooltip.hidden = true;
    guide.setAttribute('visibility', 'hidden');
    if (onMove) onMove(-1);
  };
  svg.addEventListener('pointermove', move);
  svg.addEventListener('pointerleave', leave);
  box.append(tooltip);
}

function tipRows(title, rows) {
  return [h('div', { class: 'tip-title' }, title),
    h('table', null, rows.map(([label, value, cls]) => h('tr', null,
      h('td', null, cls ? h('span', { class: `swatch ${cls}` }) : null, label), h('td', { class: 'num' }, value))))];
}

// lineChart draws value(entry) over the entries (each with a date) as a
// line over a filled area. format formats a value for the axis (compact)
// and tooltips (full).
export function lineChart({ id, label, entries, value, format, details, height = 280 }) {
  const n = entries.length;
  if (n === 0) return empty();
  const values = entries.map(value);
  const xAt = (i) => M.left + (n === 1 ? PW / 2 : (i * PW) / (n - 1));
  const { svg, y, ylo, PH } = frame({
    id, label, entries, lo: Math.min(0, ...values), hi: Math.max(0, ...values), yFormat: (v) => format(v, true), xAt, H: height,
  });
  const box = h('div', { class: 'chart-box' }, svg);
  const gradient = `${id}-fill`;
  svg.append(s('defs', null, s('linearGradient', { id: gradient, x1: 0, x2: 0, y1: 0, y2: 1 },
    s('stop', { offset: '0%', class: 'fill-top' }), s('stop', { offset: '100%', class: 'fill-bottom' }))));
  const pts = values.map((v, i) => `${xAt(i).toFixed(1)},${y(v).toFixed(1)}`);
  const base = y(Math.max(0, ylo)).toFixed(1);
  svg.append(
    s('path', { class: 'area', fill: `url(#${gradient})`, d: `M${xAt(0).toFixed(1)},${base} L${pts.join(' L')} L${xAt(n - 1).toFixed(1)},${base} Z` }),
    s('path', { class: 'line', d: `M${pts.join(' L')}` }));
  const dots = s('g', { class: 'dots' });
  if (n <= 48) values.forEach((v, i) => dots.append(s('circle', { cx: xAt(i), cy: y(v), r: 3 }, s('title', null, `${tipLabel(entries[i].date)}: ${format(v)}`))));
  const focus = s('circle', { class: 'focus', r: 5, cx: 0, cy: 0, visibility: 'hidden' });
  svg.append(dots, focus);
  hover(box, svg, PH, n, (px) => Math.round(((px - M.left) / PW) * (n - 1)),
    (i) => tipRows(tipLabel(entries[i].date), [[label, format(values[i])], ...(details ? details(entries[i]) : [])]),
    xAt,
    (i) => {
      if (i < 0) return focus.setAttribute('visibility', 'hidden');
      focus.setAttribute('cx', xAt(i));
      focus.setAttribute('cy', y(values[i]));
      focus.setAttribute('visibility', 'visible');
    });
  return box;
}

// stackedBars draws, per entry, the series' values as bars stacked up from
// zero (positive values) and down from zero (negative ones), with a tick at
// the net sum where both directions meet. series: [{key, label, cls}].
export function stackedBars({ id, label, entries, series, format, height = 280 }) {
  const n = entries.length;
  if (n === 0) return empty();
  const val = (e, sr) => Number(e[sr.key]) || 0;
  let lo = 0;
  let hi = 0;
  for (const e of entries) {
    let up = 0;
    let down = 0;
    for (const sr of series) {
      const v = val(e, sr);
      if (v > 0) up += v; else down += v;
    }
    hi = Math.max(hi, up);
    lo = Math.min(lo, down);
  }
  const band = PW / Math.max(1, n);
  const xAt = (i) => M.left + band * (i + 0.5);
  const { svg, y, PH } = frame({ id, label, entries, lo, hi, yFormat: (v) => format(v, true), xAt, H: height });
  const box = h('div', { class: 'chart-box' }, svg);
  const bw = Math.max(2, Math.min(40, band * 0.64));
  const bars = s('g', { class: 'bars' });
  entries.forEach((e, i) => {
    let up = 0;
    let down = 0;
    let net = 0;
    const x = xAt(i) - bw / 2;
    for (const sr of series) {
      const v = val(e, sr);
      net += v;
      if (v === 0) continue;
      const from = v > 0 ? up : down;
      const to = from + v;
      if (v > 0) up = to; else down = to;
      const top = Math.min(y(from), y(to));
      const height = Math.max(1, Math.abs(y(to) - y(from)));
      bars.append(s('rect', { class: `bar ${sr.cls}`, x: x.toFixed(1), y: top.toFixed(1), width: bw.toFixed(1), height: height.toFixed(1), rx: 1.5 },
        s('title', null, `${tipLabel(e.date)} · ${sr.label}: ${format(v)}`)));
    }
    if (up !== 0 && down !== 0) {
      bars.append(s('line', { class: 'net', x1: x - 3, x2: x + bw + 3, y1: y(net), y2: y(net) }));
    }
  });
  svg.append(bars);
  hover(box, svg, PH, n, (px) => Math.floor((px - M.left) / band),
    (i) => {
      const e = entries[i];
      const rows = series.map((sr) => [sr.label, format(val(e, sr)), sr.cls]);
      rows.push(['Net', format(series.reduce((t, sr) => t + val(e, sr), 0))]);
      return tipRows(tipLabel(e.date), rows);
    }, xAt);
  return box;
}

// empty stands in for a chart with no entries.
function empty() {
  return h('div', { class: 'chart-box' }, h('p', { class: 'chart-empty' }, 'No entries in this period.'));
}

// legend names the series of a chart with their colours.
export function legend(series) {
  return h('ul', { class: 'legend' }, series.map((sr) => h('li', null, h('span', { class: `swatch ${sr.cls}` }), sr.label)));
}
