// node-oidc-provider configured like tokensmith's bench server, so bench/run.sh can
// compare the two side by side: same client (client_secret_basic), same scope and
// resource indicator, ES256 JWT access tokens (or opaque ones), introspection,
// refresh tokens with rotation, an in-memory store, N worker processes.
//
// Environment (bench/run.sh sets all of it):
//   PORT           port on 127.0.0.1
//   WORKERS        worker processes (node:cluster; the primary only forwards connections)
//   ISSUER         issuer URL (default http://127.0.0.1:$PORT)
//   CLIENT_ID, CLIENT_SECRET, RESOURCE, SCOPE, REDIRECT_URI, ACCOUNT_ID
//   TOKEN_FORMAT   "jwt" (default) or "opaque": the resource's access token format
//   SEED_DIR       folder for the pre-created grants: the primary writes codes.txt and
//                  refresh_tokens.txt (one value a line), every worker stores them all,
//                  and the primary writes "ready" once every worker listens
//   SEED_CODES, SEED_REFRESH_TOKENS   how many of each to pre-create (default 0)
//   SEED_ACCESS_TOKEN=1  also one opaque client_credentials access token (access_token.txt),
//                  for the introspection scenario
//   CODE_VERIFIER  PKCE verifier the codes are bound to (S256)
//
// Pre-created grants and several workers: the store is per process, so each worker
// holds a copy of every pre-created code and refresh token. wrk sends each value once,
// so whichever worker gets it uses it once; the copy in the other worker stays unused.
// A real multi-process deployment would need a shared store (Redis), which is slower:
// these figures are an upper bound for node-oidc-provider.
import cluster from 'node:cluster';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import Provider from 'oidc-provider';

const env = (name, fallback) => process.env[name] ?? fallback;
const PORT = Number(env('PORT', '3000'));
const WORKERS = Number(env('WORKERS', '1'));
const ISSUER = env('ISSUER', `http://127.0.0.1:${PORT}`);
const CLIENT_ID = env('CLIENT_ID', 'bench-client');
const CLIENT_SECRET = env('CLIENT_SECRET', 'bench-secret-0123456789abcdef0123456789');
const RESOURCE = env('RESOURCE', 'https://api.example.test');
const SCOPE = env('SCOPE', 'api:read');
const REDIRECT_URI = env('REDIRECT_URI', 'http://127.0.0.1:9/callback');
const ACCOUNT_ID = env('ACCOUNT_ID', 'bench-user');
const TOKEN_FORMAT = env('TOKEN_FORMAT', 'jwt');
const SEED_DIR = env('SEED_DIR', '');
const SEED_CODES = Number(env('SEED_CODES', '0'));
const SEED_REFRESH_TOKENS = Number(env('SEED_REFRESH_TOKENS', '0'));
const SEED_ACCESS_TOKEN = env('SEED_ACCESS_TOKEN', '') === '1';
const CODE_VERIFIER = env('CODE_VERIFIER', 'bench-code-verifier-0123456789-0123456789-0123456789');
const USER_SCOPE = `openid offline_access ${SCOPE}`;

// ------------------------------------------------------------------ store

// The provider's own MemoryAdapter is an LRU of 1,000 entries: pre-created grants would be
// evicted before use. This one is a plain Map with the same contract and expiry.
const storage = new Map();
const grantMembers = new Map();

class MapAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    storage.set(key, { payload, expiresAt });
    if (payload.grantId && this.model !== 'Grant') {
      let members = grantMembers.get(payload.grantId);
      if (!members) grantMembers.set(payload.grantId, (members = new Set()));
      members.add(key);
    }
  }

  async find(id) {
    const key = this.key(id);
    const entry = storage.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      storage.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  async findByUid() {
    return undefined;
  }

  async findByUserCode() {
    return undefined;
  }

  async consume(id) {
    const entry = storage.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    const key = this.key(id);
    const entry = storage.get(key);
    storage.delete(key);
    const grantId = entry?.payload.grantId;
    if (grantId) grantMembers.get(grantId)?.delete(key);
  }

  async revokeByGrantId(grantId) {
    for (const key of grantMembers.get(grantId) ?? []) storage.delete(key);
    grantMembers.delete(grantId);
  }
}

// ------------------------------------------------------------------ provider

function createProvider(signingKey) {
  const resourceServer = {
    scope: 'api:read api:write',
    audience: RESOURCE,
    accessTokenTTL: 3600,
    accessTokenFormat: TOKEN_FORMAT,
    ...(TOKEN_FORMAT === 'jwt' ? { jwt: { sign: { alg: 'ES256' } } } : {}),
  };
  return new Provider(ISSUER, {
    adapter: MapAdapter,
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [REDIRECT_URI],
        scope: USER_SCOPE,
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [signingKey] },
    scopes: ['openid', 'offline_access', 'api:read', 'api:write'],
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => RESOURCE,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => {
          if (indicator !== RESOURCE) throw new Provider.errors.InvalidTarget();
          return resourceServer;
        },
      },
    },
    rotateRefreshToken: () => true,
    ttl: {
      AccessToken: 3600,
      ClientCredentials: 3600,
      AuthorizationCode: 3600,
      IdToken: 300,
      RefreshToken: 14 * 24 * 3600,
      Grant: 30 * 24 * 3600,
      Session: 3600,
      Interaction: 3600,
    },
  });
}

// ------------------------------------------------------------------ pre-created grants

function randomValues(count) {
  return Array.from({ length: count }, () => randomBytes(32).toString('base64url'));
}

function readValues(name) {
  const text = readFileSync(join(SEED_DIR, name), 'utf8');
  return text.split('\n').filter(Boolean);
}

async function createGrant(provider, index) {
  const grant = new provider.Grant({ jti: `bench-grant-${index}`, accountId: ACCOUNT_ID, clientId: CLIENT_ID });
  grant.addOIDCScope('openid offline_access');
  grant.addResourceScope(RESOURCE, SCOPE);
  return grant.save();
}

async function seed(provider) {
  const challenge = createHash('sha256').update(CODE_VERIFIER).digest('base64url');
  const authTime = Math.floor(Date.now() / 1000);
  let index = 0;
  for (const jti of SEED_ACCESS_TOKEN ? readValues('access_token.txt') : []) {
    const token = new provider.ClientCredentials({ jti, clientId: CLIENT_ID, scope: SCOPE, aud: RESOURCE });
    token.format = 'opaque'; // normally chosen while generating the id, which we pass in
    await token.save();
  }
  for (const jti of SEED_CODES ? readValues('codes.txt') : []) {
    const grantId = await createGrant(provider, index++);
    await new provider.AuthorizationCode({
      jti,
      accountId: ACCOUNT_ID,
      clientId: CLIENT_ID,
      grantId,
      scope: USER_SCOPE,
      resource: RESOURCE,
      redirectUri: REDIRECT_URI,
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
      authTime,
    }).save();
  }
  for (const jti of SEED_REFRESH_TOKENS ? readValues('refresh_tokens.txt') : []) {
    const grantId = await createGrant(provider, index++);
    await new provider.RefreshToken({
      jti,
      accountId: ACCOUNT_ID,
      clientId: CLIENT_ID,
      grantId,
      scope: USER_SCOPE,
      resource: RESOURCE,
      gty: 'authorization_code',
      rotations: 0,
      authTime,
    }).save();
  }
}

// ------------------------------------------------------------------ processes

if (cluster.isPrimary) {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es256', alg: 'ES256', use: 'sig' };
  if (SEED_DIR) {
    writeFileSync(join(SEED_DIR, 'codes.txt'), randomValues(SEED_CODES).join('\n') + '\n');
    writeFileSync(join(SEED_DIR, 'refresh_tokens.txt'), randomValues(SEED_REFRESH_TOKENS).join('\n') + '\n');
    writeFileSync(join(SEED_DIR, 'access_token.txt'), randomValues(SEED_ACCESS_TOKEN ? 1 : 0).join('\n') + '\n');
  }
  let ready = 0;
  for (let i = 0; i < WORKERS; i += 1) {
    const worker = cluster.fork({ BENCH_SIGNING_JWK: JSON.stringify(jwk) });
    worker.on('message', (message) => {
      if (message === 'listening' && (ready += 1) === WORKERS) {
        if (SEED_DIR) writeFileSync(join(SEED_DIR, 'ready'), `${WORKERS}\n`);
        console.log(`oidc-provider ${ISSUER}: ${WORKERS} worker(s) ready`);
      }
    });
  }
  cluster.on('exit', (worker, code, signal) => {
    console.error(`worker ${worker.process.pid} exited (${signal || code})`);
    process.exitCode = 1;
  });
  const stop = () => {
    for (const worker of Object.values(cluster.workers)) worker.kill('SIGTERM');
    process.exit();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const provider = createProvider(JSON.parse(process.env.BENCH_SIGNING_JWK));
  provider.on('server_error', (_ctx, error) => console.error('server_error', error));
  await seed(provider);
  provider.listen(PORT, '127.0.0.1', () => process.send('listening'));
}
