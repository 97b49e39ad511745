/**
 * A host's keyboard-interactive question (a one-time code after the key) as a dialog: the
 * server's instruction text, each prompt as a field (hidden where the server asks for it), and
 * Answer or Decline. Questions asked before this window opened are fetched on mount; one
 * answered elsewhere (another window, the CLI) closes here too. Answers go to the host's
 * handshake and are kept nowhere.
 */
import { useEffect, useState, type FormEvent } from 'react';
import type { EventPayload } from '../../../electron/shared/api';
import { toErrorInfo, type ErrorInfo } from '../../api';
import { useApi } from '../../api/context';
import { ErrorNotice } from '../../components/ErrorNotice';
import { TextField } from '../../components/Field';
import { Modal } from '../../components/Modal';

type Prompt = EventPayload<'auth.prompt'>;

/** Shows the oldest open question, if any. */
export function AuthPromptDialog() {
  const api = useApi();
  const [open, setOpen] = useState<Prompt[]>([]);

  useEffect(() => {
    let live = true;
    const add = (p: Prompt) => setOpen((list) => (list.some((x) => x.id === p.id) ? list : [...list, p]));
    const offs = [api.on('auth.prompt', add), api.on('auth.promptDone', ({ id }) => setOpen((list) => list.filter((p) => p.id !== id)))];
    api.auth
      .pending()
      .then((list) => live && list.forEach(add))
      .catch(() => undefined);
    return () => {
      live = false;
      offs.forEach((off) => off());
    };
  }, [api]);

  const current = open[0];
  if (!current) return null;
  return <PromptForm key={current.id} prompt={current} onDone={() => setOpen((list) => list.filter((p) => p.id !== current.id))} />;
}

function PromptForm({ prompt, onDone }: { prompt: Prompt; onDone: () => void }) {
  const api = useApi();
  const [answers, setAnswers] = useState<string[]>(() => prompt.prompts.map(() => ''));
  const [busy, setBusy] = useState(false);
  const [remember, setRemember] = useState(false);
  const [error, setError] = useState<ErrorInfo | null>(null);

  const act = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      onDone();
    } catch (e) {
      setError(toErrorInfo(e));
      setBusy(false);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void act(() => api.auth.answer({ id: prompt.id, answers, ...(prompt.remember ? { remember } : {}) }));
  };
  const decline = () => void act(() => api.auth.cancel({ id: prompt.id }));
  const until = new Date(prompt.expiresAt).toLocaleTimeString();

  return (
    <Modal title={`${prompt.host} asks for an answer`} onClose={decline} role="alertdialog" className="auth-prompt">
      <form onSubmit={submit}>
        {prompt.name && <p className="auth-prompt-name">{prompt.name}</p>}
        {prompt.instructions.trim() && <p className="auth-prompt-instructions">{prompt.instructions}</p>}
        {prompt.prompts.map((p, i) => (
          <TextField
            key={i}
            id={`auth-prompt-${i}`}
            label={p.prompt.trim().replace(/:$/, '')}
            type={p.echo ? 'text' : 'password'}
            autoComplete={p.echo ? 'off' : 'one-time-code'}
            spellCheck={false}
            value={answers[i] ?? ''}
            data-autofocus={i === 0 ? true : undefined}
            onChange={(e) => setAnswers((a) => a.map((v, j) => (j === i ? e.target.value : v)))}
          />
        ))}
        {prompt.remember && (
          <div className="field field-check">
            <label>
              <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} /> Remember until Cronium quits (in memory only)
            </label>
          </div>
        )}
        <p className="muted">The connection waits until {until}. {prompt.remember ? 'The passphrase opens the key on this computer and is not stored.' : 'The answer goes to the host and is not stored.'}</p>
        {error && <ErrorNotice error={error} />}
        <div className="form-actions">
          <button type="button" className="btn" onClick={decline} disabled={busy}>
            Decline
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Sending…' : 'Answer'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
