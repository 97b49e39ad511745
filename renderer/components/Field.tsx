/** Labelled form controls whose hint and error are tied to them for screen readers. */
import type { InputHTMLAttributes, ReactNode, Ref, SelectHTMLAttributes } from 'react';

interface FieldFrameProps {
  id: string;
  label: string;
  optional?: boolean;
  hint?: ReactNode;
  error?: string | undefined;
  className?: string;
  children: ReactNode;
}

/** The label, hint and error around one control. */
function FieldFrame({ id, label, optional, hint, error, className, children }: FieldFrameProps) {
  return (
    <div className={`field${error ? ' field-invalid' : ''}${className ? ` ${className}` : ''}`}>
      <label htmlFor={id}>
        {label}
        {optional && <span className="field-optional"> (optional)</span>}
      </label>
      {children}
      {hint && !error && (
        <p id={`${id}-hint`} className="field-hint">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="field-error">
          {error}
        </p>
      )}
    </div>
  );
}

function describedBy(id: string, hint: unknown, error: string | undefined): string | undefined {
  if (error) return `${id}-error`;
  return hint ? `${id}-hint` : undefined;
}

/** Props of TextField: an input plus its label, hint and error. */
export interface TextFieldProps extends Omit<InputHTMLAttributes<HTMLInputElement>, 'id'> {
  id: string;
  label: string;
  optional?: boolean;
  hint?: ReactNode;
  error?: string | undefined;
  fieldClassName?: string;
  inputRef?: Ref<HTMLInputElement>;
}

/** A labelled text input. */
export function TextField({ id, label, optional, hint, error, fieldClassName, inputRef, ...input }: TextFieldProps) {
  return (
    <FieldFrame id={id} label={label} optional={optional ?? false} hint={hint} error={error} {...(fieldClassName ? { className: fieldClassName } : {})}>
      <input
        {...input}
        ref={inputRef}
        id={id}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(id, hint, error)}
        aria-required={optional ? undefined : true}
      />
    </FieldFrame>
  );
}

/** Props of SelectField. */
export interface SelectFieldProps extends Omit<SelectHTMLAttributes<HTMLSelectElement>, 'id'> {
  id: string;
  label: string;
  optional?: boolean;
  hint?: ReactNode;
  error?: string | undefined;
  fieldClassName?: string;
  selectRef?: Ref<HTMLSelectElement>;
}

/** A labelled select. */
export function SelectField({ id, label, optional, hint, error, fieldClassName, selectRef, children, ...select }: SelectFieldProps) {
  return (
    <FieldFrame id={id} label={label} optional={optional ?? false} hint={hint} error={error} {...(fieldClassName ? { className: fieldClassName } : {})}>
      <select {...select} ref={selectRef} id={id} aria-invalid={error ? true : undefined} aria-describedby={describedBy(id, hint, error)}>
        {children}
      </select>
    </FieldFrame>
  );
}
