// "Among CLUE's published models": after an evaluation, one small bar chart per task score and
// Level, with the published models (data/published-results.json, read by the wasm package
// through the same task-score functions as a run) in grey and this run — and any saved
// results.json files the user adds to compare — in colour with their 95% intervals. Drawn as
// SVG built element by element (no markup parsing), each chart with a text alternative.
import { byId, element } from './dom.js';
import { TASKS, taskName } from './results.js';

const SVG = 'http://www.w3.org/2000/svg';
const ROW = 15;
const LABEL = 215;
const BAR = 230;
const VALUE = 90;
const COLOURS = ['#c2410c', '#1d4ed8', '#047857', '#7e22ce', '#a16207'];

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A run's number for `panel` (a task id, 'level1' or 'level2'), in percent: {score, ci, partial}. */
function runValue(results, panel) {
  const part = panel.startsWith('level') ? results.levels && results.levels[panel] : results.tasks && results.tasks[panel];
  if (!part) return null;
  const pct = (v) => (typeof v === 'number' ? 100 * v : null);
  return {
    score: pct(part.score),
    ci: Array.isArray(part.score_ci95) ? part.score_ci95.map(pct) : null,
    partial: pct(part.partial_score),
  };
}

const panelName = (panel) => ({ level1: 'Level 1', level2: 'Level 2' }[panel] || taskName(panel));

/**
 * One panel: the published models with a number for `panel` and each run, sorted by score;
 * returns the figure, or null when no run has the panel.
 */
function panelFigure(panel, published, runs) {
  const rows = published
    .map((m) => ({ label: m.model, score: panel.startsWith('level') ? m[panel] : m.tasks[panel], published: true }))
    .filter((r) => typeof r.score === 'number');
  const own = runs
    .map((run, i) => ({ label: run.label, colour: COLOURS[i % COLOURS.length], value: runValue(run.results, panel) }))
    .filter((r) => r.value);
  if (!own.length) return null;
  for (const r of own) rows.push({ label: r.label, score: r.value.score, ci: r.value.ci, partial: r.value.partial, colour: r.colour });
  rows.sort((a, b) => (b.score ?? -1) - (a.score ?? -1));

  const figure = element('figure', undefined, { class: 'chart', 'data-panel': panel });
  const count = rows.filter((r) => r.published).length;
  const summary = own.map((r) => {
    if (r.value.score === null) return `${r.label}: not computed${r.value.partial === null ? '' : ` (partial ${r.value.partial.toFixed(1)})`}`;
    const rank = rows.filter((x) => x.published && x.score > r.value.score).length + 1;
    const ci = r.value.ci && r.value.ci.every((v) => v !== null) ? ` (95% CI ${r.value.ci[0].toFixed(1)}–${r.value.ci[1].toFixed(1)})` : '';
    return `${r.label}: ${r.value.score.toFixed(1)}${ci}, above ${count - rank + 1} of ${count} published models`;
  }).join('; ');
  const caption = element('figcaption');
  caption.append(element('strong', panelName(panel)), ` — ${summary}`);

  const height = rows.length * ROW + 20;
  const chart = svg('svg', {
    viewBox: `0 0 ${LABEL + BAR + VALUE} ${height}`, width: LABEL + BAR + VALUE, height, role: 'img',
    'aria-label': `${panelName(panel)} in percent: ${summary}. Published models: ${rows.filter((r) => r.published).map((r) => `${r.label} ${r.score.toFixed(1)}`).join(', ')}.`,
  });
  const x = (v) => LABEL + (Math.max(0, Math.min(100, v)) / 100) * BAR;
  for (const tick of [0, 25, 50, 75, 100]) {
    chart.appendChild(svg('line', { x1: x(tick), x2: x(tick), y1: 0, y2: height - 16, class: 'grid' }));
    chart.appendChild(svg('text', { x: x(tick), y: height - 4, 'text-anchor': 'middle', class: 'tick' }, String(tick)));
  }
  rows.forEach((r, i) => {
    const y = i * ROW;
    const g = svg('g', { class: r.published ? 'published' : 'run', 'data-label': r.label });
    g.appendChild(svg('text', { x: LABEL - 6, y: y + 11, 'text-anchor': 'end' }, r.label.length > 30 ? `${r.label.slice(0, 29)}…` : r.label));
    if (r.score !== null) {
      g.appendChild(svg('rect', { x: LABEL, y: y + 2, width: Math.max(1, x(r.score) - LABEL), height: ROW - 4, fill: r.colour || '#9ca3af' }));
      if (r.ci && r.ci.every((v) => v !== null)) {
        g.appendChild(svg('line', { x1: x(r.ci[0]), x2: x(r.ci[1]), y1: y + ROW / 2, y2: y + ROW / 2, class: 'whisker' }));
        for (const bound of r.ci) g.appendChild(svg('line', { x1: x(bound), x2: x(bound), y1: y + 3, y2: y + ROW - 3, class: 'whisker' }));
      }
      g.appendChild(svg('text', { x: LABEL + BAR + 6, y: y + 11 }, r.score.toFixed(1)));
    } else {
      g.appendChild(svg('text', { x: LABEL + 4, y: y + 11, class: 'missing' }, `not computed${r.partial === null ? '' : ` (partial ${r.partial.toFixed(1)})`}`));
    }
    chart.appendChild(g);
  });
  figure.append(caption, chart);
  return figure;
}

/** Draws the panels of every task any run has, and both Levels, into `container`. */
export function renderChart(container, published, runs) {
  container.replaceChildren();
  const panels = [...TASKS.map((t) => t.id), 'level1', 'level2'];
  for (const panel of panels) {
    const figure = panelFigure(panel, published, runs);
    if (figure) container.appendChild(figure);
  }
}

/**
 * Wires the chart to the hub: the published models arrive once from the worker; each finished
 * evaluation is drawn with the saved results the user added for comparison.
 */
export function setupChart(hub) {
  let published = [];
  let current = null;
  const compared = [];
  const container = byId('eval-chart');
  const status = byId('compare-status');
  const draw = () => {
    if (current) renderChart(container, published, [current, ...compared]);
  };
  hub.on('published', ({ models, error }) => {
    if (error) status.textContent = `CLUE's published results could not be read: ${error}`;
    published = models || [];
    draw();
  });
  hub.on('eval-finished', ({ results }) => {
    current = { label: `This run (${results.run && results.run.model ? results.run.model.name : 'model'})`, results };
    draw();
  });
  byId('compare-files').addEventListener('change', async (event) => {
    const problems = [];
    for (const file of event.target.files) {
      try {
        const results = JSON.parse(await file.text());
        if (!results || typeof results.tasks !== 'object' || typeof results.levels !== 'object') {
          throw new Error('not a results.json of clue eval or this page (it has no "tasks" and "levels")');
        }
        compared.push({ label: `${file.name}${results.run && results.run.model ? ` (${results.run.model.name})` : ''}`, results });
      } catch (e) {
        problems.push(`${file.name}: ${e.message || e}`);
      }
    }
    event.target.value = '';
    status.textContent = problems.length ? problems.join(' ') : `${compared.length} saved run${compared.length === 1 ? '' : 's'} compared.`;
    draw();
  });
}
