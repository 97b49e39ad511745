/** An ARIA tab list: arrow keys, Home and End move between tabs; only the selected one is tabbable. */
import { useRef, type KeyboardEvent, type ReactNode } from 'react';

/** One tab. */
export interface TabItem {
  id: string;
  label: ReactNode;
}

/** Props of Tabs. */
export interface TabsProps {
  label: string;
  idPrefix: string;
  items: readonly TabItem[];
  selected: string;
  onSelect: (id: string) => void;
}

/** The tab id and panel id of an item, for aria-controls / aria-labelledby. */
export const tabIds = (prefix: string, id: string) => ({ tab: `${prefix}-tab-${id}`, panel: `${prefix}-panel-${id}` });

/** A horizontal tab list; the caller renders the selected panel with `tabIds(...).panel`. */
export function Tabs({ label, idPrefix, items, selected, onSelect }: TabsProps) {
  const listRef = useRef<HTMLDivElement>(null);
  const onKeyDown = (e: KeyboardEvent) => {
    const i = items.findIndex((t) => t.id === selected);
    let next = -1;
    if (e.key === 'ArrowRight') next = (i + 1) % items.length;
    else if (e.key === 'ArrowLeft') next = (i - 1 + items.length) % items.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = items.length - 1;
    if (next < 0) return;
    e.preventDefault();
    const id = items[next]!.id;
    onSelect(id);
    requestAnimationFrame(() => listRef.current?.querySelector<HTMLElement>(`[id="${tabIds(idPrefix, id).tab}"]`)?.focus());
  };
  return (
    <div ref={listRef} role="tablist" aria-label={label} className="tabs" onKeyDown={onKeyDown}>
      {items.map((t) => {
        const ids = tabIds(idPrefix, t.id);
        const on = t.id === selected;
        return (
          <button key={t.id} type="button" role="tab" id={ids.tab} aria-selected={on} aria-controls={ids.panel} tabIndex={on ? 0 : -1} className="tab" onClick={() => onSelect(t.id)}>
            {t.label}
          </button>
        );
      })}
    </div>
  );
}
