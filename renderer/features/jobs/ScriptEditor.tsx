/**
 * A CodeMirror 6 script editor with highlighting for bash/sh, python3 and node. The
 * EditorView is a live handle kept in a ref; the language is swapped through a
 * compartment without recreating the editor. Colours come from CSS variables so the
 * editor follows the light/dark theme.
 */
import { javascript } from '@codemirror/lang-javascript';
import { python } from '@codemirror/lang-python';
import { HighlightStyle, StreamLanguage, syntaxHighlighting, type LanguageSupport } from '@codemirror/language';
import { shell } from '@codemirror/legacy-modes/mode/shell';
import { Compartment, EditorState, type Extension } from '@codemirror/state';
import { tags as t } from '@lezer/highlight';
import { basicSetup, EditorView } from 'codemirror';
import { useEffect, useRef } from 'react';
import { SelectField } from '../../components/Field';

/** The interpreters a script can name. */
export type Interpreter = 'bash' | 'sh' | 'python3' | 'node';

const INTERPRETERS: Interpreter[] = ['bash', 'sh', 'python3', 'node'];

/** The labelled interpreter select of the Run form and the Scripts editor. */
export function InterpreterField({ id, value, onChange }: { id: string; value: Interpreter; onChange: (i: Interpreter) => void }) {
  return (
    <SelectField id={id} label="Interpreter" value={value} onChange={(e) => onChange(e.target.value as Interpreter)}>
      {INTERPRETERS.map((i) => (
        <option key={i} value={i}>
          {i}
        </option>
      ))}
    </SelectField>
  );
}

const shellLang = StreamLanguage.define(shell);

function languageOf(i: Interpreter): LanguageSupport | Extension {
  if (i === 'python3') return python();
  if (i === 'node') return javascript();
  return shellLang;
}

const highlight = HighlightStyle.define([
  { tag: [t.keyword, t.controlKeyword, t.operatorKeyword, t.definitionKeyword, t.moduleKeyword], color: 'var(--syn-keyword)' },
  { tag: [t.string, t.special(t.string), t.regexp], color: 'var(--syn-string)' },
  { tag: [t.comment, t.lineComment, t.blockComment], color: 'var(--syn-comment)', fontStyle: 'italic' },
  { tag: [t.number, t.bool, t.null, t.atom], color: 'var(--syn-number)' },
  { tag: [t.variableName, t.special(t.variableName)], color: 'var(--syn-variable)' },
  { tag: [t.function(t.variableName), t.function(t.propertyName), t.definition(t.function(t.variableName))], color: 'var(--syn-function)' },
  { tag: [t.typeName, t.className, t.standard(t.variableName)], color: 'var(--syn-type)' },
  { tag: [t.operator, t.punctuation], color: 'var(--syn-punct)' },
]);

const theme = EditorView.theme({
  '&': { color: 'var(--text)', backgroundColor: 'var(--surface)', fontSize: '12px' },
  '.cm-content': { fontFamily: 'var(--mono)', caretColor: 'var(--text)' },
  '.cm-gutters': { backgroundColor: 'var(--surface-2)', color: 'var(--muted)', borderRight: '1px solid var(--border)' },
  '.cm-activeLine': { backgroundColor: 'var(--active-line)' },
  '.cm-activeLineGutter': { backgroundColor: 'var(--active-line)' },
  '&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection': { backgroundColor: 'var(--selection)' },
  '.cm-cursor': { borderLeftColor: 'var(--text)' },
  '&.cm-focused': { outline: '2px solid var(--focus)', outlineOffset: '-1px' },
});

/** Props of ScriptEditor. */
export interface ScriptEditorProps {
  id: string;
  value: string;
  interpreter: Interpreter;
  onChange: (value: string) => void;
  /** aria-describedby of the editable area (hint or error). */
  describedBy?: string | undefined;
  invalid?: boolean;
}

/** The editor; `value` seeds it and is followed when changed from outside. */
export function ScriptEditor({ id, value, interpreter, onChange, describedBy, invalid }: ScriptEditorProps) {
  const boxRef = useRef<HTMLDivElement>(null);
  const viewRef = useRef<EditorView | null>(null);
  const langRef = useRef(new Compartment());
  const onChangeRef = useRef(onChange);
  useEffect(() => {
    onChangeRef.current = onChange;
  }, [onChange]);
  const initial = useRef({ value, interpreter });

  useEffect(() => {
    const box = boxRef.current;
    if (!box) return;
    const view = new EditorView({
      parent: box,
      state: EditorState.create({
        doc: initial.current.value,
        extensions: [
          basicSetup,
          langRef.current.of(languageOf(initial.current.interpreter)),
          syntaxHighlighting(highlight),
          theme,
          EditorView.contentAttributes.of({ id, 'aria-label': 'Script', 'aria-multiline': 'true' }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) onChangeRef.current(u.state.doc.toString());
          }),
        ],
      }),
    });
    viewRef.current = view;
    return () => {
      viewRef.current = null;
      view.destroy();
    };
  }, [id]);

  useEffect(() => {
    viewRef.current?.dispatch({ effects: langRef.current.reconfigure(languageOf(interpreter)) });
  }, [interpreter]);

  useEffect(() => {
    const view = viewRef.current;
    if (view && view.state.doc.toString() !== value) view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: value } });
  }, [value]);

  useEffect(() => {
    const el = viewRef.current?.contentDOM;
    if (!el) return;
    if (describedBy) el.setAttribute('aria-describedby', describedBy);
    else el.removeAttribute('aria-describedby');
    if (invalid) el.setAttribute('aria-invalid', 'true');
    else el.removeAttribute('aria-invalid');
  }, [describedBy, invalid]);

  return <div ref={boxRef} className={`script-editor${invalid ? ' script-editor-invalid' : ''}`} data-language={interpreter} />;
}
