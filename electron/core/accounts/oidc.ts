/**
 * OpenID Connect sign-in for a team server (issue #16), by the authorization code flow with
 * PKCE, state and nonce (openid-client). The server keeps nothing between the two legs: what the
 * callback must check (the PKCE verifier, state, nonce, where to return) travels in a cookie
 * sealed with the installation's secret key (any server of the team opens it) and good for 10
 * minutes. The identity that comes back ("issuer subject") signs in as the account an admin
 * linked to it (`cronium users add NAME --role R --oidc-subject "ISSUER SUBJECT"`); an identity
 * no account names is refused (SIGN_IN_FAILED): the IdP proves who a person is, the team server
 * decides what they may do. Second factors are the IdP's.
 *
 * The client secret comes from CRONIUM_OIDC_CLIENT_SECRET (never a command line). An issuer over
 * plain HTTP is accepted only on a loopback address (a test IdP, a local proxy).
 */
import * as client from 'openid-client';
import { CroniumError } from '../../shared/errors';
import type { SecretBox } from '../secrets/secret-box';

/** How long a sign-in may take at the IdP. */
const PENDING_MS = 10 * 60_000;
const CONTEXT = 'oidc.pending';

/** A team server's OpenID Connect settings. */
export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The callback's absolute URL (registered at the IdP): the server's public address + /auth/oidc/callback (known once it listens). */
  redirectUri: () => string;
}

interface Pending {
  verifier: string;
  state: string;
  nonce: string;
  until: number;
}

/** Whether a URL's host is a loopback address. */
function loopback(u: URL): boolean {
  return /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(u.hostname);
}

/** The OpenID Connect client of a team server; see the file's comment. */
export class OidcSignIn {
  #config: Promise<client.Configuration> | undefined;

  constructor(
    private readonly settings: OidcSettings,
    private readonly secrets: SecretBox,
    private readonly now: () => number = Date.now,
  ) {
    const issuer = new URL(settings.issuer);
    if (issuer.protocol !== 'https:' && !(issuer.protocol === 'http:' && loopback(issuer))) {
      throw new CroniumError('INVALID_INPUT', `invalid --oidc-issuer: ${issuer.origin} is not https://`, 'an identity provider is reached over HTTPS (plain HTTP only on a loopback address)');
    }
  }

  /** The IdP's metadata (discovered once; again after a failure). */
  private config(): Promise<client.Configuration> {
    const issuer = new URL(this.settings.issuer);
    this.#config ??= client
      .discovery(issuer, this.settings.clientId, undefined, client.ClientSecretPost(this.settings.clientSecret), issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : undefined)
      .catch((e: unknown) => {
        this.#config = undefined;
        throw new CroniumError('CONNECT_FAILED', `the identity provider ${issuer.origin} cannot be reached: ${(e as Error).message}`, 'check --oidc-issuer and that the provider is up');
      });
    return this.#config;
  }

  /** Starts a sign-in: where to send the browser, and the sealed cookie value the callback needs. */
  async start(): Promise<{ url: string; pending: string }> {
    const config = await this.config();
    const verifier = client.randomPKCECodeVerifier();
    const p: Pending = { verifier, state: client.randomState(), nonce: client.randomNonce(), until: this.now() + PENDING_MS };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.settings.redirectUri(),
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: p.state,
      nonce: p.nonce,
    });
    return { url: url.href, pending: this.secrets.seal(JSON.stringify(p), CONTEXT).toString('base64url') };
  }

  /** Finishes a sign-in at the callback: the identity ("issuer subject"), or SIGN_IN_FAILED. */
  async finish(callbackUrl: URL, pendingCookie: string | undefined): Promise<string> {
    let p: Pending;
    try {
      p = JSON.parse(this.secrets.open(Buffer.from(pendingCookie ?? '', 'base64url'), CONTEXT)) as Pending;
    } catch {
      throw new CroniumError('SIGN_IN_FAILED', 'this sign-in was not started here, or its cookie is gone', 'start again from the sign-in page');
    }
    if (p.until < this.now()) throw new CroniumError('SIGN_IN_FAILED', 'the sign-in took longer than 10 minutes', 'start again from the sign-in page');
    const config = await this.config();
    // The callback's address as the IdP sent the browser to it (the registered redirect URI and the query).
    const current = new URL(this.settings.redirectUri());
    current.search = callbackUrl.search;
    try {
      const tokens = await client.authorizationCodeGrant(config, current, { pkceCodeVerifier: p.verifier, expectedState: p.state, expectedNonce: p.nonce, idTokenExpected: true });
      const claims = tokens.claims();
      if (!claims) throw new Error('no ID token');
      return `${claims.iss} ${claims.sub}`;
    } catch (e) {
      throw new CroniumError('SIGN_IN_FAILED', `the identity provider's answer was refused: ${(e as Error).message}`, 'start again from the sign-in page; if it keeps failing, check the client at the identity provider');
    }
  }
}
