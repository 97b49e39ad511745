/** The Schedules view: cron, plain-language description, next runs, pause/resume, remove, add. */
import { useEffect, useState } from 'react';
import { toErrorInfo, type ErrorInfo } from '../../api';
import { navigate } from '../../app/route';
import { ErrorNotice } from '../../components/ErrorNotice';
import { LoadStatus } from '../../components/LoadStatus';
import { Modal } from '../../components/Modal';
import { useAppStore, type ScheduleView } from '../../store';
import { AddScheduleDialog } from './AddScheduleDialog';
import { ScheduleDurationsChart } from '../charts/ScheduleDurationsChart';
import type { ScheduleHealthView } from '../../../electron/shared/api';
import { useApi } from '../../api/context';
import { ScheduleHealthPanel } from './ScheduleHealthPanel';

/** A time in the schedule's own zone, e.g. "Mon 28 Nov, 14:05". */
export function formatInZone(ts: number, tz: string): string {
  try {
    return new Date(ts).toLocaleString(undefined, { timeZone: tz, weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  } catch {
    return new Date(ts).toISOString();
  }
}

function targetText(s: ScheduleView): string {
  const parts = [];
  if (s.target.hosts?.length) parts.push(s.target.hosts.join(', '));
  if (s.target.tags?.length) parts.push(s.target.tags.map((t) => `tag ${t}`).join(', '));
  return parts.join('; ') || '—';
}

/** One schedule as a card. */
function ScheduleCard({ s, health, onHealthChanged, onError, onRemove }: { s: ScheduleView; health: ScheduleHealthView | undefined; onHealthChanged: () => void; onError: (e: ErrorInfo) => void; onRemove: (s: ScheduleView) => void }) {
  const setJobsFilter = useAppStore((st) => st.jobs.setFilter);
  const showJobs = (name: string) => {
    setJobsFilter({ status: null, host: null, schedule: name, range: 'all' });
    navigate({ view: 'jobs' });
  };
  const pause = useAppStore((st) => st.schedules.pause);
  const resume = useAppStore((st) => st.schedules.resume);
  const [busy, setBusy] = useState(false);
  const toggle = async () => {
    setBusy(true);
    try {
      await (s.paused ? resume(s.name) : pause(s.name));
    } catch (e) {
      onError(toErrorInfo(e));
    } finally {
      setBusy(false);
    }
  };
  const headingId = `schedule-${s.id}-name`;
  return (
    <li className={`card schedule${s.paused ? ' schedule-paused' : ''}`} aria-labelledby={headingId}>
      <div className="card-head">
        <h2 id={headingId}>{s.name}</h2>
        {s.paused && <span className="status status-warn">paused</span>}
        {health && health.health !== 'ok' && <span className={`status ${health.health === 'late' ? 'status-warn' : 'status-bad'}`}>{health.health}</span>}
        <div className="toolbar">
          <button type="button" className="btn btn-small" onClick={() => void toggle()} disabled={busy} aria-label={`${s.paused ? 'Resume' : 'Pause'} ${s.name}`}>
            {s.paused ? 'Resume' : 'Pause'}
          </button>
          <button type="button" className="btn btn-small btn-ghost" onClick={() => onRemove(s)} aria-label={`Remove ${s.name}`}>
            Remove
          </button>
        </div>
      </div>
      <dl className="facts">
        <div>
          <dt>Cron</dt>
          <dd className="mono">{s.cron}</dd>
        </div>
        <div className="facts-wide">
          <dt>When</dt>
          <dd className="schedule-description">
            {s.description} <span className="muted">({s.tz})</span>
          </dd>
        </div>
        <div>
          <dt>Target</dt>
          <dd>{targetText(s)}</dd>
        </div>
        <div>
          <dt>Overlap</dt>
          <dd>{s.overlapPolicy}</dd>
        </div>
        <div>
          <dt>Catch-up</dt>
          <dd>{s.catchupPolicy}</dd>
        </div>
      </dl>
      <div className="next-runs">
        <h3 id={`${headingId}-next`}>Next runs</h3>
        {s.nextRuns.length ? (
          <ol aria-labelledby={`${headingId}-next`}>
            {s.nextRuns.slice(0, 5).map((t) => (
              <li key={t}>
                <time dateTime={new Date(t).toISOString()}>{formatInZone(t, s.tz)}</time>
              </li>
            ))}
          </ol>
        ) : (
          <p className="muted">{s.paused ? 'None while paused.' : 'None.'}</p>
        )}
      </div>
      {health && <ScheduleHealthPanel h={health} onChanged={onHealthChanged} />}
      <div className="schedule-chart span-2">
        <div className="schedule-chart-head">
          <h3 id={`${headingId}-durations`}>Run durations</h3>
          <button type="button" className="link-button small" onClick={() => showJobs(s.name)}>
            Its jobs
          </button>
        </div>
        <ScheduleDurationsChart name={s.name} refreshKey={s.lastFireAt} />
      </div>
    </li>
  );
}

/** The Schedules view. */
export function SchedulesView() {
  const list = useAppStore((s) => s.schedules.list);
  const loaded = useAppStore((s) => s.schedules.loaded);
  const error = useAppStore((s) => s.schedules.error);
  const load = useAppStore((s) => s.schedules.load);
  const remove = useAppStore((s) => s.schedules.remove);
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<ScheduleView | null>(null);
  const [actionError, setActionError] = useState<ErrorInfo | null>(null);
  const [announcement, setAnnouncement] = useState('');
  const api = useApi();
  const [health, setHealth] = useState<ScheduleHealthView[]>([]);
  const loadHealth = () => void api.schedules.health().then(setHealth, (e: unknown) => setActionError(toErrorInfo(e)));

  useEffect(() => {
    void load();
  }, [load]);
  // Health follows the list (fires change it), and every few seconds while the view is open.
  useEffect(() => {
    loadHealth();
    const t = setInterval(loadHealth, 5000);
    return () => clearInterval(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [list]);

  return (
    <section className="view" aria-labelledby="schedules-title">
      <header className="view-header">
        <h1 id="schedules-title">Schedules</h1>
        {loaded && <span className="view-count">{list.length === 1 ? '1 schedule' : `${list.length} schedules`}</span>}
        <div className="toolbar">
          <button type="button" className="btn btn-primary" onClick={() => setAdding(true)}>
            Add schedule
          </button>
        </div>
      </header>
      <p className="visually-hidden" role="status">
        {announcement}
      </p>
      <LoadStatus loaded={loaded} error={error} onRetry={() => void load()} what="schedules" />
      {actionError && <ErrorNotice error={actionError} />}
      {!loaded ? null : list.length === 0 ? (
        <section className="empty" aria-labelledby="schedules-empty-title">
          <h2 id="schedules-empty-title">No schedules yet</h2>
          <p>A schedule runs a script on hosts or a tag at times given by a cron expression, while Cronium runs.</p>
          <button type="button" className="btn btn-primary" onClick={() => setAdding(true)}>
            Add schedule
          </button>
        </section>
      ) : (
        <ul className="cards" aria-label="Schedules">
          {list.map((s) => (
            <ScheduleCard key={s.id} s={s} health={health.find((h) => h.name === s.name)} onHealthChanged={loadHealth} onError={setActionError} onRemove={setRemoving} />
          ))}
        </ul>
      )}
      {adding && (
        <AddScheduleDialog
          onClose={() => setAdding(false)}
          onAdded={(s) => {
            setAdding(false);
            setAnnouncement(`Added schedule ${s.name}.`);
          }}
        />
      )}
      {removing && (
        <Modal title={`Remove ${removing.name}?`} onClose={() => setRemoving(null)} role="alertdialog" className="modal-confirm">
          <p className="modal-body">The schedule stops firing. Jobs it already started stay in the history.</p>
          <div className="form-actions">
            <button type="button" className="btn" data-autofocus="" onClick={() => setRemoving(null)}>
              Cancel
            </button>
            <button
              type="button"
              className="btn btn-danger"
              onClick={() => {
                const name = removing.name;
                setRemoving(null);
                remove(name).then(
                  () => setAnnouncement(`Removed schedule ${name}.`),
                  (e: unknown) => setActionError(toErrorInfo(e)),
                );
              }}
            >
              Remove schedule
            </button>
          </div>
        </Modal>
      )}
    </section>
  );
}
