/** A team server's sign-in form: name and password, then the authenticator's code when the account has one. */
import { useState, type FormEvent } from 'react';
import { signIn, ssoError, type SignInError } from './team-session';

export function SignIn({ onSignedIn, oidc = false }: { onSignedIn: () => void; oidc?: boolean }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [needsCode, setNeedsCode] = useState(false);
  const [error, setError] = useState<SignInError | null>(() => ssoError(window.location.search));
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    const err = await signIn({ name, password, ...(needsCode ? { code } : {}) });
    setBusy(false);
    if (!err) return onSignedIn();
    if (err.code === 'TOTP_REQUIRED') {
      setNeedsCode(true);
      setError(null);
      return;
    }
    setError(err);
  };

  return (
    <main className="app sign-in">
      <form className="card form" onSubmit={(e) => void submit(e)} aria-label="Sign in">
        <h1>Sign in to Cronium</h1>
        <label className="field">
          <span>Name</span>
          <input name="name" autoComplete="username" value={name} onChange={(e) => setName(e.target.value)} required autoFocus />
        </label>
        <label className="field">
          <span>Password</span>
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        {needsCode && (
          <label className="field">
            <span>Code from your authenticator app</span>
            <input name="code" inputMode="numeric" autoComplete="one-time-code" pattern="\d{6}" value={code} onChange={(e) => setCode(e.target.value)} required autoFocus />
          </label>
        )}
        {error && (
          <p className="field-error" role="alert" data-code={error.code}>
            {error.message}
            {error.hint ? ` — ${error.hint}` : ''}
          </p>
        )}
        <div className="form-actions">
          <button className="btn btn-primary" type="submit" disabled={busy}>
            Sign in
          </button>
          {oidc && (
            <a className="btn" href="/auth/oidc/start">
              Sign in with single sign-on
            </a>
          )}
        </div>
      </form>
    </main>
  );
}

/** Who is signed in, and the way out. */
export function TeamBar({ name, role, onSignOut }: { name: string; role: string; onSignOut: () => void }) {
  return (
    <div className="banner team-bar" role="status">
      Signed in as <strong>{name}</strong> ({role}) ·{' '}
      <button className="link-button" type="button" onClick={onSignOut}>
        Sign out
      </button>
    </div>
  );
}
