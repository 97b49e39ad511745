/**
 * The follow-ups of a job (jobs.tree): the chain it belongs to, from its root, each job
 * with the follow-up jobs its runs fired (on success, failure, always or a condition),
 * as a nested list of links. The current job is marked; nothing shows for a job with
 * neither a parent nor follow-ups.
 */
import { useEffect, useState } from 'react';
import type { JobTreeNode } from '../../../electron/shared/api';
import { toErrorInfo, type ErrorInfo } from '../../api';
import { useApi } from '../../api/context';
import { routeHref } from '../../app/route';
import { ErrorNotice } from '../../components/ErrorNotice';
import { StatusBadge } from '../../components/StatusBadge';

const ON_TEXT: Record<string, string> = { success: 'on success', failure: 'on failure', always: 'always', condition: 'on condition' };

/** The ids of every job in a tree. */
export function treeIds(node: JobTreeNode, into = new Set<number>()): Set<number> {
  into.add(node.job.id);
  for (const c of node.children) treeIds(c, into);
  return into;
}

/** How many jobs a tree holds. */
export function treeSize(node: JobTreeNode): number {
  return 1 + node.children.reduce((n, c) => n + treeSize(c), 0);
}

function Node({ node, current }: { node: JobTreeNode; current: number }) {
  const j = node.job;
  const isCurrent = j.id === current;
  return (
    <li>
      <span className="job-tree-node" aria-current={isCurrent ? 'page' : undefined}>
        <a href={routeHref({ view: 'job', id: j.id })}>#{j.id}</a>
        {j.scriptName && <span className="mono">{j.scriptName}</span>}
        <StatusBadge status={j.status} />
        {node.trigger && (
          <span className="muted small">
            {ON_TEXT[node.trigger.on] ?? node.trigger.on} of {node.trigger.host}
          </span>
        )}
        {isCurrent && <span className="muted small">(this job)</span>}
      </span>
      {node.children.length > 0 && (
        <ul>
          {node.children.map((c) => (
            <Node key={c.job.id} node={c} current={current} />
          ))}
        </ul>
      )}
    </li>
  );
}

/** Props of JobTree. */
export interface JobTreeProps {
  id: number;
  /** Reload when this changes (the job's status). */
  refreshKey?: unknown;
}

/** The follow-up tree of a job, or nothing when it has none. */
export function JobTree({ id, refreshKey }: JobTreeProps) {
  const api = useApi();
  const [tree, setTree] = useState<JobTreeNode | null>(null);
  const [error, setError] = useState<ErrorInfo | null>(null);

  useEffect(() => {
    let live = true;
    let ids = new Set<number>([id]);
    let maxId = id;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const load = () =>
      api.jobs.tree({ id }).then(
        (t) => {
          if (!live) return;
          setTree(t);
          setError(null);
          ids = treeIds(t);
          maxId = Math.max(...ids);
        },
        (e: unknown) => live && setError(toErrorInfo(e)),
      );
    // A status change of a job in the tree, or of a newer job (a follow-up being fired), reloads it.
    const off = api.on('run.status', (e) => {
      if (timer || !(ids.has(e.jobId) || e.jobId > maxId)) return;
      timer = setTimeout(() => {
        timer = null;
        void load();
      }, 300);
    });
    void load();
    return () => {
      live = false;
      off();
      if (timer) clearTimeout(timer);
    };
  }, [api, id, refreshKey]);

  if (error) return error.code === 'NOT_IMPLEMENTED' ? null : <ErrorNotice error={error} />;
  if (!tree || treeSize(tree) < 2) return null;
  return (
    <details className="job-tree" open aria-label="Follow-ups">
      <summary>Follow-ups ({treeSize(tree) - 1})</summary>
      <ul aria-label={`Follow-up chain of job ${tree.job.id}`}>
        <Node node={tree} current={id} />
      </ul>
    </details>
  );
}
