// IVR flows: the list with each flow's validation state, a flow drawn as a tree, a YAML editor that
// validates and saves (every problem listed with its line, the line marked in the editor), upload of a
// .yaml file, and the FastAGI server's counters. ?flow=<name> opens that flow.
// Also the frame the calendar and voicemail pages share: busy() shows progress, showError() a notice.
import { t, loadNamespace, applyI18n, bindLangSwitch } from '/static/i18n.js';
import { api, get, post, ApiError } from '/static/api.js';
import { h, fill, $ } from '/static/dom.js';

const FLOW_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const MAX_BYTES = 256 * 1024; // the server refuses larger flows
const STATS_EVERY_MS = 10000;
const STAT_KEYS = ['sessions_active', 'sessions_total', 'fallbacks', 'errors', 'hangups', 'port'];
const ICONS = {
  play: '🔊', menu: '☰', input: '⌨', branch: '⑂', lookup: '🔍', queue: '👥', transfer: '↗',
  voicemail: '✉', callback: '☎', survey: '★', set: '✎', hangup: '⏻',
};
const TEMPLATE = `description: 新流程
start: welcome
nodes:
  welcome:
    type: play
    file: custom/welcome
    next: support
  support:
    type: queue
    queue: support
`;

// The server labels ways out of a node in both languages ("按 key 1"); shown in the page's language.
const EDGE_LABELS = [
  [/^按 key (.+)$/, (m) => t('ivr.edge.key', { key: m[1] })],
  [/^否则 else$/, () => t('ivr.edge.else')],
  [/^类别 category (.+)$/, (m) => t('ivr.edge.category', { category: m[1] })],
  [/^找到 found$/, () => t('ivr.edge.found')],
  [/^未找到 not found$/, () => t('ivr.edge.not_found')],
  [/^下一步 next$/, () => t('ivr.edge.next')],
  [/^失败 on failure$/, () => t('ivr.edge.on_failure')],
  [/^(.+)$/, (m) => t('ivr.edge.if', { test: m[1] })], // a branch test such as "calendar = closed"
];

const state = { flows: [], current: null, tree: null, treeMessage: 'ivr.tree.pick', issues: [], markedLine: 0 };
const editor = $('#yaml-text');
const gutter = $('#yaml-gutter');
const mark = $('#line-mark');

// --- page frame (shared with calendar.js and voicemail.js) -------------------------------------------
let pending = 0;
// Await promise; the progress indicator shows while any such work takes longer than a moment.
export async function busy(promise) {
  pending += 1;
  const timer = setTimeout(() => { $('#busy').hidden = pending === 0; }, 250);
  try {
    return await promise;
  } finally {
    pending -= 1;
    clearTimeout(timer);
    if (!pending) $('#busy').hidden = true;
  }
}

export function errorText(error) {
  if (error instanceof ApiError && error.status === 403) return t('ivr.forbidden');
  return error instanceof ApiError && typeof error.detail === 'string' ? error.detail : error.message;
}

export function showError(error) {
  const notice = $('#notice');
  notice.textContent = error instanceof ApiError && error.status === 403
    ? t('ivr.forbidden') : t('ivr.error', { detail: errorText(error) });
  notice.hidden = false;
}

// An event handler that clears the notice, runs action and shows what went wrong.
export function guarded(action) {
  return (...args) => {
    $('#notice').hidden = true;
    return Promise.resolve(action(...args)).catch(showError);
  };
}

// (page id as in <body data-page>, address, label)
const PAGES = [
  ['flows', '/admin/ivr', 'ivr.nav.flows'],
  ['calendar', '/admin/calendar', 'ivr.nav.calendar'],
  ['voicemail', '/voicemail', 'ivr.nav.voicemail'],
  ['desk', '/desk', 'ivr.nav.desk'],
];

function frame() {
  fill($('#admin-nav'), PAGES.map(([id, href, key]) => h('a', {
    href, 'data-i18n': key, 'aria-current': document.body.dataset.page === id ? 'page' : null,
  })));
  $('#lang-switch').before(h('span', { id: 'busy', class: 'busy', role: 'status', hidden: true },
    h('span', { class: 'spinner' }), h('span', { 'data-i18n': 'ivr.busy' })));
}

// The navigation, translations and language switch, then the page itself; a failure shows in the notice.
export async function startPage(run) {
  try {
    frame();
    await loadNamespace('ivr');
    applyI18n(document);
    bindLangSwitch($('#lang-switch'));
    await run();
    document.body.dataset.ready = '1';
  } catch (error) {
    showError(error);
  }
}

function setStatus(text, ok) {
  const status = $('#editor-status');
  status.textContent = text;
  status.className = ok === undefined ? 'muted' : (ok ? 'status-ok' : 'status-bad');
}

// --- flow list and counters -------------------------------------------------------------------------
function flowItem(flow) {
  const open = () => guarded(openFlow)(flow.name);
  return h('li', {
    class: flow.name === state.current ? 'current' : null,
    dataset: { flow: flow.name, valid: flow.valid ? '1' : '0' },
    tabindex: '0',
    onclick: open,
    onkeydown: (event) => { if (event.key === 'Enter') open(); },
  },
  h('span', { class: 'flow-name grow' }, flow.name),
  flow.valid
    ? h('span', { class: 'badge ok' }, t('ivr.flows.valid'))
    : h('span', { class: 'badge bad' }, t('ivr.flows.invalid', { count: flow.issues.length })),
  flow.valid ? h('span', { class: 'muted' }, t('ivr.flows.nodes', { count: flow.nodes })) : null,
  flow.description ? h('span', { class: 'flow-description' }, flow.description) : null);
}

function renderFlowList() {
  const list = $('#flow-list');
  if (!state.flows.length) fill(list, h('li', { class: 'muted' }, t('ivr.flows.empty')));
  else fill(list, state.flows.map(flowItem));
}

async function loadFlows() {
  state.flows = await busy(get('/api/ivr/flows'));
  renderFlowList();
}

async function loadStats() {
  const down = $('#ivr-stats-down');
  try {
    const stats = await get('/api/ivr/stats');
    down.hidden = true;
    fill($('#ivr-stats'), STAT_KEYS.map((key) => [
      h('dt', {}, t(`ivr.stats.${key}`)),
      h('dd', { dataset: { stat: key } }, String(stats[key] ?? 0)),
    ]));
  } catch (error) {
    fill($('#ivr-stats'));
    down.hidden = !(error instanceof ApiError && error.status === 503);
  }
}

// --- the tree -----------------------------------------------------------------------------------------
function edgeLabel(label) {
  for (const [pattern, render] of EDGE_LABELS) {
    const match = pattern.exec(label);
    if (match) return render(match);
  }
  return label;
}

// "播放 play custom/welcome" -> "custom/welcome": the type is shown translated beside it.
function detailOf(summary) {
  return String(summary || '').replace(/^[^\x00-\x7f]+ [a-z]+(?: |$)/, '');
}

function flash(nodeId) {
  const box = document.querySelector(`#flow-tree .tree-node[data-node="${CSS.escape(nodeId)}"]`);
  if (!box) return;
  box.scrollIntoView({ block: 'center', behavior: 'smooth' });
  box.classList.add('flash');
  setTimeout(() => box.classList.remove('flash'), 1500);
}

// Recordings a node plays besides the one in its summary, when the server lists them (node.prompts).
function prompts(node) {
  const named = Object.entries(node.prompts || {});
  if (!named.length) return null;
  return h('span', { class: 'prompts' }, `🔈 ${named.map(([field, file]) => `${field}: ${file}`).join(', ')}`);
}

function nodeBox(node) {
  return h('div', { class: `tree-node type-${node.type}`, dataset: { node: node.id, type: node.type } },
    h('span', { class: 'icon', 'aria-hidden': 'true' }, ICONS[node.type] || '•'),
    h('span', { class: 'node-id' }, node.id),
    h('span', { class: 'badge' }, t(`ivr.type.${node.type}`)),
    h('span', { class: 'detail' }, detailOf(node.summary)),
    prompts(node),
    node.line ? h('button', {
      type: 'button', class: 'line-link', title: t('ivr.tree.line_title'), onclick: () => jumpToLine(node.line),
    }, t('ivr.tree.line', { line: node.line })) : null);
}

function children(node) {
  if (!node.children.length) return null;
  return h('ul', {}, node.children.map((child) => h('li', { dataset: { edge: child.label } },
    h('span', { class: 'tree-edge' }, edgeLabel(child.label)),
    child.ref !== undefined
      ? h('button', { type: 'button', class: 'tree-ref', dataset: { ref: child.ref }, onclick: () => flash(child.ref) },
        `↪ ${t('ivr.tree.goto', { node: child.ref })}`)
      : [nodeBox(child.node), children(child.node)])));
}

function renderTree() {
  const tree = state.tree;
  $('#tree-name').textContent = tree ? tree.flow : (state.current || '');
  $('#tree-description').textContent = tree ? tree.description : '';
  const message = $('#tree-message');
  message.hidden = Boolean(tree);
  message.dataset.i18n = state.treeMessage;
  message.textContent = t(state.treeMessage);
  if (!tree) {
    fill($('#flow-tree'));
    return;
  }
  const start = h('ul', {}, h('li', {},
    h('span', { class: 'tree-edge' }, t('ivr.tree.start')), nodeBox(tree.root), children(tree.root)));
  const unused = tree.unreachable.length
    ? [h('h3', {}, t('ivr.tree.unreachable')),
      h('ul', {}, tree.unreachable.map((node) => h('li', {}, nodeBox(node), children(node))))]
    : null;
  fill($('#flow-tree'), start, unused);
}

// --- the editor ---------------------------------------------------------------------------------------
function lineHeight() {
  return parseFloat(getComputedStyle(editor).lineHeight) || 18;
}

function placeMark() {
  const line = state.markedLine;
  const top = parseFloat(getComputedStyle(editor).paddingTop) + (line - 1) * lineHeight() - editor.scrollTop;
  mark.hidden = !line || top < -lineHeight() || top > editor.clientHeight;
  mark.style.top = `${top}px`;
}

function renderGutter() {
  const count = editor.value.split('\n').length;
  const wrong = new Set(state.issues.map((issue) => issue.line));
  fill(gutter, Array.from({ length: count }, (_, i) => h('div', { class: wrong.has(i + 1) ? 'error' : null }, String(i + 1))));
  gutter.scrollTop = editor.scrollTop;
  placeMark();
}

function setEditorText(text) {
  editor.value = text;
  editor.scrollTop = 0;
  state.markedLine = 0;
  renderGutter();
}

// Select the line, scroll it into view and mark it.
function jumpToLine(line) {
  const lines = editor.value.split('\n');
  const number = Math.min(Math.max(1, line), lines.length);
  const start = lines.slice(0, number - 1).reduce((sum, text) => sum + text.length + 1, 0);
  editor.focus({ preventScroll: true });
  editor.setSelectionRange(start, start + lines[number - 1].length);
  editor.scrollTop = Math.max(0, (number - 1) * lineHeight() - editor.clientHeight / 3);
  gutter.scrollTop = editor.scrollTop;
  state.markedLine = number;
  $('#yaml-editor').dataset.markedLine = String(number);
  placeMark();
}

function issueItem(issue) {
  return h('li', {}, h('button', {
    type: 'button', class: 'issue', dataset: { line: issue.line }, onclick: () => jumpToLine(issue.line),
  },
  issue.line ? h('span', { class: 'issue-line' }, t('ivr.editor.issue_line', { line: issue.line })) : null,
  issue.path ? h('span', { class: 'issue-path' }, issue.path) : null,
  h('span', { class: 'issue-message' }, issue.message)));
}

function showIssues(issues) {
  state.issues = issues;
  fill($('#flow-issues'), issues.map(issueItem));
  renderGutter();
  const first = issues.find((issue) => issue.line > 0);
  if (first) jumpToLine(first.line);
  else {
    state.markedLine = 0;
    delete $('#yaml-editor').dataset.markedLine;
    placeMark();
  }
}

function issuesOf(error) {
  const detail = error instanceof ApiError && error.status === 422 ? error.detail : null;
  return detail && Array.isArray(detail.issues) ? detail.issues : null;
}

function flowName() {
  const name = $('#flow-name').value.trim();
  if (FLOW_NAME.test(name)) return name;
  setStatus(t('ivr.editor.bad_name'), false);
  $('#flow-name').focus();
  return null;
}

function markCurrent() {
  for (const item of document.querySelectorAll('#flow-list li[data-flow]')) {
    item.classList.toggle('current', item.dataset.flow === state.current);
  }
}

async function openFlow(name) {
  state.current = name;
  markCurrent();
  $('#flow-name').value = name;
  try {
    const flow = await busy(get(`/api/ivr/flows/${encodeURIComponent(name)}`));
    state.tree = flow;
    setEditorText(flow.yaml);
    showIssues([]);
    setStatus('');
  } catch (error) {
    const issues = issuesOf(error);
    if (!issues) throw error;
    state.tree = null;
    state.treeMessage = 'ivr.tree.broken';
    setEditorText(typeof error.detail.yaml === 'string' ? error.detail.yaml : '');
    showIssues(issues);
    setStatus(t('ivr.editor.invalid', { count: issues.length }), false);
  }
  renderTree();
}

async function validate() {
  const name = flowName();
  if (!name) return;
  const report = await busy(post(`/api/ivr/flows/${encodeURIComponent(name)}/validate`, { text: editor.value }));
  showIssues(report.issues);
  if (report.valid) setStatus(t('ivr.editor.valid'), true);
  else setStatus(t('ivr.editor.invalid', { count: report.issues.length }), false);
}

async function save() {
  const name = flowName();
  if (!name) return;
  if (!editor.value.trim()) {
    setStatus(t('ivr.editor.empty'), false);
    return;
  }
  try {
    await busy(api('PUT', `/api/ivr/flows/${encodeURIComponent(name)}`, { text: editor.value }));
  } catch (error) {
    const issues = issuesOf(error);
    if (!issues) throw error;
    showIssues(issues);
    setStatus(t('ivr.editor.refused', { count: issues.length }), false);
    return;
  }
  await loadFlows();
  await openFlow(name);
  setStatus(t('ivr.editor.saved', { name }), true);
}

async function upload() {
  const input = $('#flow-file');
  const file = input.files && input.files[0];
  if (!file) return;
  input.value = '';
  if (file.size > MAX_BYTES) {
    setStatus(t('ivr.editor.too_big'), false);
    return;
  }
  let text;
  try {
    text = await file.text();
  } catch (error) {
    setStatus(t('ivr.editor.not_text', { detail: error.message }), false);
    return;
  }
  const stem = file.name.replace(/\.ya?ml$/i, '');
  if (FLOW_NAME.test(stem)) $('#flow-name').value = stem;
  state.current = null;
  state.tree = null;
  state.treeMessage = 'ivr.tree.after_save';
  markCurrent();
  renderTree();
  setEditorText(text);
  setStatus(t('ivr.editor.loaded_file', { file: file.name }));
  await validate();
}

function newFlow() {
  state.current = null;
  state.tree = null;
  state.treeMessage = 'ivr.tree.pick';
  markCurrent();
  renderTree();
  $('#flow-name').value = '';
  setEditorText(TEMPLATE);
  showIssues([]);
  setStatus('');
  $('#flow-name').focus();
}

function wire() {
  editor.addEventListener('input', () => { renderGutter(); setStatus(t('ivr.editor.unsaved')); });
  editor.addEventListener('scroll', () => { gutter.scrollTop = editor.scrollTop; placeMark(); });
  $('#flow-validate').addEventListener('click', guarded(validate));
  $('#flow-save').addEventListener('click', guarded(save));
  $('#flow-file').addEventListener('change', guarded(upload));
  $('#flow-new').addEventListener('click', newFlow);
  document.addEventListener('langchange', () => {
    renderFlowList();
    renderTree();
    fill($('#flow-issues'), state.issues.map(issueItem));
    loadStats();
  });
}

async function main() {
  wire();
  setEditorText('');
  loadStats();
  setInterval(loadStats, STATS_EVERY_MS);
  await loadFlows();
  const wanted = new URLSearchParams(location.search).get('flow');
  const first = state.flows.find((flow) => flow.name === wanted) || state.flows.find((flow) => flow.valid);
  if (first) await openFlow(first.name);
}

if (editor) startPage(main); // the flows page; the other pages import the frame only
