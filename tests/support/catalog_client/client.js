// Calls a running backlot catalog with Backstage's own @backstage/catalog-client, given a token.
// Usage: CATALOG_CLIENT_MODULES=<node_modules> node client.js <baseUrl> <token|-> <entityRef>
// Prints one JSON object with what each call returned (or the error name and status).
const path = require('path');
const modules = process.env.CATALOG_CLIENT_MODULES;
const { CatalogClient } = require(path.join(modules, '@backstage/catalog-client'));

const [baseUrl, tokenArg, ref] = process.argv.slice(2);
const token = tokenArg === '-' ? undefined : tokenArg;
const client = new CatalogClient({
  discoveryApi: { getBaseUrl: async () => `${baseUrl}/api/catalog` },
});
const opts = token ? { token } : undefined;

async function attempt(f) {
  try {
    return { ok: await f() };
  } catch (e) {
    return { error: e.name, status: e.response ? e.response.status : e.statusCode };
  }
}

(async () => {
  const out = {};
  out.byRef = await attempt(async () => {
    const e = await client.getEntityByRef(ref, opts);
    return e ? e.metadata.name : null;
  });
  out.entities = await attempt(async () => {
    const r = await client.getEntities({ filter: { kind: 'Component' } }, opts);
    return r.items.map(e => e.metadata.name).sort();
  });
  out.query = await attempt(async () => {
    const r = await client.queryEntities({ filter: { kind: 'Component' }, limit: 1 }, opts);
    return { totalItems: r.totalItems, page: r.items.length, hasNext: Boolean(r.pageInfo.nextCursor) };
  });
  out.facets = await attempt(async () => {
    const r = await client.getEntityFacets({ facets: ['kind'] }, opts);
    return r.facets.kind.map(f => `${f.value}:${f.count}`).sort();
  });
  process.stdout.write(JSON.stringify(out));
})();
