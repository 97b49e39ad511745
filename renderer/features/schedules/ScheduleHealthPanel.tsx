/** A schedule's health in its card: state and why, streak, alert settings, webhooks (masked), a test alert. */
import { useState } from 'react';
import type { ScheduleHealthView } from '../../../electron/shared/api';
import { toErrorInfo, type ErrorInfo } from '../../api';
import { useApi } from '../../api/context';
import { ErrorNotice } from '../../components/ErrorNotice';

const CLASS: Record<ScheduleHealthView['health'], string> = { ok: 'status-ok', missed: 'status-bad', late: 'status-warn', failing: 'status-bad' };
const secs = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`);

export function ScheduleHealthPanel({ h, onChanged }: { h: ScheduleHealthView; onChanged: () => void }) {
  const api = useApi();
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<ErrorInfo | null>(null);
  const [url, setUrl] = useState('');
  const [format, setFormat] = useState<'generic' | 'slack'>('generic');
  const [busy, setBusy] = useState(false);
  const id = `health-${h.name}`;
  const act = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(toErrorInfo(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="schedule-health span-2" aria-labelledby={id}>
      <h3 id={id}>Health</h3>
      <p>
        <span className={`status ${CLASS[h.health]}`}>{h.health}</span>
        {h.reason && <span className="health-reason"> {h.reason}</span>}
      </p>
      <dl className="facts">
        <div>
          <dt>Last fire</dt>
          <dd>{h.lastFireAt ? new Date(h.lastFireAt).toLocaleString() : '—'}</dd>
        </div>
        <div>
          <dt>Next fire</dt>
          <dd>{h.nextFireAt ? new Date(h.nextFireAt).toLocaleString() : '—'}</dd>
        </div>
        <div>
          <dt>Streak</dt>
          <dd>{h.streak ? `${h.streak.count} ${h.streak.status}` : '—'}</dd>
        </div>
        <div>
          <dt>Grace</dt>
          <dd>{secs(h.graceMs)}</dd>
        </div>
        <div>
          <dt>Expected</dt>
          <dd>{h.expectedMs === null ? 'not known yet' : `${secs(h.expectedMs)}${h.expectedSource === 'median' ? ' (median)' : ''}`}</dd>
        </div>
        <div>
          <dt>Failing after</dt>
          <dd>{h.failingAfter} failed</dd>
        </div>
        <div>
          <dt>Notifications</dt>
          <dd>{h.notify ? 'on' : 'off'}</dd>
        </div>
      </dl>
      <ul className="webhooks" aria-label={`Webhooks of ${h.name}`}>
        {h.webhooks.map((w) => (
          <li key={w.id}>
            <span className="mono">{w.url}</span> ({w.format}){w.lastDelivery ? ` — last: ${w.lastDelivery.status}${w.lastDelivery.error ? ` (${w.lastDelivery.error})` : ''}` : ''}{' '}
            <button type="button" className="link-button small" disabled={busy} onClick={() => void act(async () => (await api.schedules.set({ name: h.name, removeWebhook: w.id }), onChanged()))} aria-label={`Remove webhook ${w.id} of ${h.name}`}>
              Remove
            </button>
          </li>
        ))}
      </ul>
      <form
        className="form-row webhook-form"
        onSubmit={(e) => {
          e.preventDefault();
          void act(async () => {
            await api.schedules.set({ name: h.name, addWebhook: { url: url.trim(), format } });
            setUrl('');
            onChanged();
          });
        }}
      >
        <label className="field">
          <span>Webhook URL</span>
          <input type="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://hooks.slack.com/services/…" autoComplete="off" spellCheck={false} />
        </label>
        <label className="field">
          <span>Format</span>
          <select value={format} onChange={(e) => setFormat(e.target.value as 'generic' | 'slack')}>
            <option value="generic">JSON</option>
            <option value="slack">Slack</option>
          </select>
        </label>
        <button type="submit" className="btn btn-small" disabled={busy || !url.trim()}>
          Add webhook
        </button>
        <button
          type="button"
          className="btn btn-small"
          disabled={busy}
          onClick={() =>
            void act(async () => {
              const r = await api.schedules.testAlert({ name: h.name });
              setResult(r.results.length === 0 ? 'No webhooks: the desktop app shows the notification.' : r.results.map((x) => `${x.url}: ${x.ok ? `delivered (HTTP ${x.status})` : `failed (${x.error})`}`).join('; '));
              onChanged();
            })
          }
        >
          Send test alert
        </button>
      </form>
      {result && (
        <p role="status" className="muted">
          {result}
        </p>
      )}
      {error && <ErrorNotice error={error} />}
    </section>
  );
}
