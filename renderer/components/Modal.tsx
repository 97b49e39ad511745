/**
 * A modal dialog on the native <dialog>: the browser traps focus, makes the page
 * behind it inert and closes it on Escape. Mount it to open it, unmount to close;
 * focus goes back to whatever had it before.
 */
import { useEffect, useEffectEvent, useId, useRef, type ReactNode } from 'react';

/** Props of Modal. */
export interface ModalProps {
  title: string;
  /** Called on Escape; the parent unmounts the modal. */
  onClose: () => void;
  children: ReactNode;
  /** `alertdialog` for confirmations. */
  role?: 'dialog' | 'alertdialog';
  /** Extra class for sizing. */
  className?: string;
}

/** A modal dialog; the first element marked data-autofocus gets focus when it opens. */
export function Modal({ title, onClose, children, role = 'dialog', className }: ModalProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const close = useEffectEvent(() => onClose());

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    dialog.showModal();
    dialog.querySelector<HTMLElement>('[data-autofocus]')?.focus();
    const onCancel = (e: Event) => {
      e.preventDefault();
      close();
    };
    dialog.addEventListener('cancel', onCancel);
    return () => {
      dialog.removeEventListener('cancel', onCancel);
      if (dialog.open) dialog.close();
      if (opener?.isConnected) opener.focus();
    };
  }, []);

  return (
    <dialog ref={ref} role={role} aria-labelledby={titleId} className={className ? `modal ${className}` : 'modal'}>
      <h2 id={titleId} className="modal-title">
        {title}
      </h2>
      {children}
    </dialog>
  );
}
