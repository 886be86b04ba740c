// Renders templates with the real nunjucks package, set up like Backstage's SecureTemplater:
// `${{ }}` variables, autoescape off, and the scaffolder's four filters.
//
// Reads JSON lines `{"template": "...", "context": {...}}` on stdin and writes one JSON line
// per input: `{"ok": "<output>"}` or `{"err": "<message>"}`.
//
// Usage: NODE_PATH=<node_modules holding nunjucks> node render.js

'use strict';

const nunjucks = require('nunjucks');
const readline = require('readline');

const env = new nunjucks.Environment(null, {
  autoescape: false,
  tags: { variableStart: '${{', variableEnd: '}}' },
});

// Filters cross the sandbox as JSON, as in Backstage.
function viaJson(fn) {
  return (...args) => {
    const out = fn(...JSON.parse(JSON.stringify(args)));
    return out === undefined ? undefined : JSON.parse(JSON.stringify(out));
  };
}

function parseRepoUrl(repoUrl) {
  let parsed;
  try {
    parsed = new URL(`https://${repoUrl}`);
  } catch (error) {
    throw new Error(`Invalid repo URL passed to publisher, got ${repoUrl}, ${error}`);
  }
  const q = name => parsed.searchParams.get(name) ?? undefined;
  const required = name => {
    if (!parsed.searchParams.get(name)) {
      throw new Error(`Invalid repo URL passed to publisher: ${parsed.toString()}, missing ${name}`);
    }
    return parsed.searchParams.get(name);
  };
  const repo = required('repo');
  const project = q('project');
  const workspace = q('workspace');
  const owner = project || workspace ? q('owner') : required('owner');
  return { host: parsed.host, owner, repo, organization: q('organization'), workspace, project };
}

function parseEntityRef(ref, context) {
  if (!ref) throw new Error('Entity reference must not be empty');
  const defaultKind = context && context.defaultKind;
  const defaultNamespace = (context && context.defaultNamespace) || 'default';
  let colon = ref.indexOf(':');
  const slash = ref.indexOf('/');
  if (slash !== -1 && slash < colon) colon = -1;
  const kind = colon === -1 ? undefined : ref.slice(0, colon);
  const namespace = slash === -1 ? undefined : ref.slice(colon + 1, slash);
  const name = ref.slice(Math.max(colon + 1, slash + 1));
  if (kind === '' || namespace === '' || name === '') {
    throw new Error(`Entity reference "${ref}" was not on the form [<kind>:][<namespace>/]<name>`);
  }
  if (!(kind ?? defaultKind)) {
    throw new Error(`Entity reference ${JSON.stringify(ref)} had missing or empty kind`);
  }
  return { kind: kind ?? defaultKind, namespace: namespace ?? defaultNamespace, name };
}

function pick(obj, path) {
  const parts = String(path).replace(/\[(\w+)\]/g, '.$1').split('.').filter(Boolean);
  let cur = obj;
  for (const p of parts) {
    if (cur === null || cur === undefined) return undefined;
    cur = cur[p];
  }
  return cur;
}

env.addFilter('parseRepoUrl', viaJson(parseRepoUrl));
env.addFilter('parseEntityRef', viaJson(parseEntityRef));
env.addFilter('pick', viaJson(pick));
env.addFilter('projectSlug', viaJson(url => {
  const { owner, repo } = parseRepoUrl(url);
  return `${owner}/${repo}`;
}));

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', line => {
  if (!line.trim()) return;
  const { template, context } = JSON.parse(line);
  let res;
  try {
    res = { ok: env.renderString(template, context) };
  } catch (e) {
    res = { err: String(e && e.message) };
  }
  process.stdout.write(JSON.stringify(res) + '\n');
});
