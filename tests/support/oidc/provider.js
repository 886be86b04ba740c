// A local OpenID Connect provider for backlot's auth tests (node provider.js).
//
// One confidential client, authorization code flow with PKCE (S256) required, refresh tokens,
// RS256 ID tokens, and an in-memory account store. The login interaction is a plain HTML form
// (POST login=<user>) and consent is granted automatically, so a plain HTTP client can sign in.
//
// Environment (all optional):
//   OIDC_PORT            port on 127.0.0.1 (default 7800)
//   OIDC_CLIENT_ID       client id (default backlot)
//   OIDC_CLIENT_SECRET   client secret (default backlot-secret)
//   OIDC_REDIRECT_URIS   comma-separated redirect URIs; a port written as :* matches any port
//                        (default http://127.0.0.1:*/api/auth/oidc/handler/frame,
//                                 http://localhost:*/api/auth/oidc/handler/frame)
//   OIDC_MODULES         where node_modules lives when not beside this file
import http from 'node:http';
import crypto from 'node:crypto';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const modules = process.env.OIDC_MODULES;
const { default: Provider } = modules
  ? await import(pathToFileURL(createRequire(path.join(modules, 'x.js')).resolve('oidc-provider')).href)
  : await import('oidc-provider');

const port = Number(process.env.OIDC_PORT || 7800);
const issuer = `http://127.0.0.1:${port}`;
const clientId = process.env.OIDC_CLIENT_ID || 'backlot';
const clientSecret = process.env.OIDC_CLIENT_SECRET || 'backlot-secret';
const redirectPatterns = (
  process.env.OIDC_REDIRECT_URIS ||
  'http://127.0.0.1:*/api/auth/oidc/handler/frame,http://localhost:*/api/auth/oidc/handler/frame'
)
  .split(',')
  .map(s => s.trim())
  .filter(Boolean);

// The accounts; tests put users with these emails in their catalog.
const accounts = {
  jane: { email: 'jane@example.com', name: 'Jane Doe', picture: 'https://example.com/jane.png' },
  john: { email: 'john+work@example.com', name: 'John Smith' },
  ghost: { email: 'ghost@example.com', name: 'Not In Catalog' },
};

function redirectAllowed(uri) {
  let u;
  try {
    u = new URL(uri);
  } catch {
    return false;
  }
  return redirectPatterns.some(p => {
    if (p === uri) return true;
    if (!p.includes(':*')) return false;
    const pu = new URL(p.replace(':*', ':1'));
    return (
      pu.protocol === u.protocol &&
      pu.hostname === u.hostname &&
      pu.pathname === u.pathname &&
      !u.search &&
      !u.hash
    );
  });
}

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomUUID(), use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      // Checked by redirectAllowed below; this one is only what registration needs.
      redirect_uris: [redirectPatterns[0].replace(':*', ':7007')],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [jwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'picture', 'preferred_username'],
  },
  features: { devInteractions: { enabled: false } },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, id) {
    const a = accounts[id];
    if (!a) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: a.email,
          email_verified: true,
          name: a.name,
          picture: a.picture,
          preferred_username: id,
        };
      },
    };
  },
});

provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(uri) {
  return redirectAllowed(uri);
};

async function grantConsent(details) {
  const { params, session, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  grant.addOIDCScope(String(params.scope || 'openid'));
  return grant.save();
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', c => {
      data += c;
      if (data.length > 10000) reject(new Error('body too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(data)));
    req.on('error', reject);
  });
}

const escape = s => String(s).replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`);

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt } = details;
  if (req.method === 'GET' && prompt.name === 'login') {
    res.setHeader('Content-Type', 'text/html');
    res.end(
      `<html><body><form method="post" action="/interaction/${escape(uid)}/login">` +
        `<input name="login"><button type="submit">Sign in</button></form></body></html>`,
    );
    return;
  }
  if (req.method === 'POST' && req.url.endsWith('/login')) {
    const body = await readBody(req);
    const login = body.get('login') || '';
    if (!accounts[login]) {
      await provider.interactionFinished(req, res, {
        error: 'access_denied',
        error_description: 'unknown user',
      });
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    return;
  }
  // Consent is granted without asking.
  const grantId = await grantConsent(details);
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch(err => {
      res.statusCode = 400;
      res.end(String(err && err.message ? err.message : err));
    });
    return;
  }
  callback(req, res);
});

server.listen(port, '127.0.0.1', () => {
  console.log(`oidc provider listening on ${issuer}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
