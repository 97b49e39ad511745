/**
 * The Add and Edit host forms' model: string values, the obvious client-side checks, the
 * conversion to the contract's input (hosts.add) or change (hosts.update, only what
 * changed), and the mapping of the app's field errors back onto the form. The app
 * validates everything again; these checks only save a trip.
 */
import type { Host } from '../../../electron/shared/api';
import { ApiError, fieldErrors } from '../../api';
import type { HostChange, NewHostInput } from '../../store';

/** The form's fields, in display order. */
export const FIELDS = ['name', 'address', 'port', 'user', 'identityFile', 'passphrase', 'tags', 'group', 'jump', 'proxyCommand', 'transport', 'password', 'elevation', 'elevationPassword'] as const;
/** One field of the form. */
export type FieldName = (typeof FIELDS)[number];

/** Each field's label, used in error messages so they name the field. */
export const LABELS: Record<FieldName, string> = {
  name: 'Name',
  address: 'Address',
  port: 'Port',
  user: 'User',
  identityFile: 'Identity file',
  passphrase: 'Key passphrase',
  tags: 'Tags',
  group: 'Group',
  jump: 'Jump host',
  proxyCommand: 'ProxyCommand',
  transport: 'SSH client',
  password: 'Password',
  elevation: 'Elevation',
  elevationPassword: 'Elevation password',
};

/** The form's values, as typed. */
export type HostFormValues = Record<FieldName, string>;

/** An empty form. */
export const EMPTY_FORM: HostFormValues = { name: '', address: '', port: '', user: '', identityFile: '', passphrase: '', tags: '', group: '', jump: '', proxyCommand: '', transport: 'auto', password: '', elevation: '', elevationPassword: '' };

/** A message per invalid field. */
export type FormErrors = Partial<Record<FieldName, string>>;

/** Splits "prod, web,,db" into ["prod", "web", "db"], without duplicates. */
export function parseTags(text: string): string[] {
  return [...new Set(text.split(',').map((t) => t.trim()).filter(Boolean))];
}

/** The checks that need no server: required fields and the port's range. */
export function validate(values: HostFormValues): FormErrors {
  const errors: FormErrors = {};
  if (!values.name.trim()) errors.name = `${LABELS.name} is required`;
  else if (/\s/.test(values.name.trim())) errors.name = `${LABELS.name} must not contain spaces`;
  if (!values.address.trim()) errors.address = `${LABELS.address} is required`;
  const port = values.port.trim();
  if (values.jump.trim() && values.proxyCommand.trim()) errors.proxyCommand = `${LABELS.proxyCommand}: a host is reached through a jump host or a ProxyCommand, not both`;
  if (port && !/^\d+$/.test(port)) errors.port = `${LABELS.port} must be a whole number from 1 to 65535`;
  else if (port && (Number(port) < 1 || Number(port) > 65535)) errors.port = `${LABELS.port} must be from 1 to 65535`;
  return errors;
}

/** The contract input for valid values; empty optional fields are left out. */
export function toInput(values: HostFormValues): NewHostInput {
  const opt = (v: string) => v.trim() || undefined;
  const input: NewHostInput = {
    name: values.name.trim(),
    address: values.address.trim(),
    tags: parseTags(values.tags),
  };
  if (values.port.trim()) input.port = Number(values.port.trim());
  const user = opt(values.user);
  if (user) input.user = user;
  const identityFile = opt(values.identityFile);
  if (identityFile) input.identityFile = identityFile;
  const group = opt(values.group);
  if (group) input.group = group;
  const jump = opt(values.jump);
  if (jump) input.jump = jump;
  const proxyCommand = opt(values.proxyCommand);
  if (proxyCommand) input.proxyCommand = proxyCommand;
  if (values.transport && values.transport !== 'auto') input.transport = values.transport as NonNullable<NewHostInput['transport']>;
  // A password is taken as typed: leading or trailing spaces may be part of it.
  if (values.password) input.password = values.password;
  if (values.passphrase) input.passphrase = values.passphrase;
  if (values.elevation) input.elevation = values.elevation as NonNullable<NewHostInput['elevation']>;
  if (values.elevationPassword) input.elevationPassword = values.elevationPassword;
  return input;
}

/** A host's current values, as the Edit form starts (secrets are never sent to the UI: empty). */
export function fromHost(h: Host): HostFormValues {
  return {
    name: h.name,
    address: h.address,
    port: String(h.port),
    user: h.user ?? '',
    identityFile: h.identityFile ?? '',
    passphrase: '',
    tags: h.tags.join(', '),
    group: h.group ?? '',
    jump: h.jump ?? '',
    proxyCommand: h.proxyCommand ?? '',
    transport: h.transport,
    password: '',
    elevation: h.elevation ?? '',
    elevationPassword: '',
  };
}

/** What the Edit form decides about a stored secret besides typing a new one. */
export interface SecretChoices {
  clearPassword: boolean;
  clearPassphrase: boolean;
}

/**
 * The hosts.update change for an edit: only the fields that differ from the host, null
 * for an optional field emptied; a typed password or passphrase replaces the stored one,
 * a "clear" choice removes it, and an empty one keeps it.
 */
export function toChange(h: Host, values: HostFormValues, useAgent: boolean, secrets: SecretChoices): HostChange {
  const change: HostChange = { name: h.name };
  const name = values.name.trim();
  if (name !== h.name) change.newName = name;
  const address = values.address.trim();
  if (address !== h.address) change.address = address;
  const port = values.port.trim() ? Number(values.port.trim()) : 22;
  if (port !== h.port) change.port = port;
  const opt = (v: string) => v.trim() || null;
  if (opt(values.user) !== h.user) change.user = opt(values.user);
  if (opt(values.identityFile) !== h.identityFile) change.identityFile = opt(values.identityFile);
  if (opt(values.group) !== h.group) change.group = opt(values.group);
  if (opt(values.jump) !== h.jump) change.jump = opt(values.jump);
  if (opt(values.proxyCommand) !== h.proxyCommand) change.proxyCommand = opt(values.proxyCommand);
  if ((values.transport || 'auto') !== h.transport) change.transport = (values.transport || 'auto') as Host['transport'];
  const tags = parseTags(values.tags);
  if (tags.join(',') !== h.tags.join(',')) change.tags = tags;
  if (useAgent !== h.useAgent) change.useAgent = useAgent;
  if (values.password) change.password = values.password;
  else if (secrets.clearPassword && h.hasPassword) change.password = null;
  if (values.passphrase) change.passphrase = values.passphrase;
  else if (secrets.clearPassphrase && h.hasPassphrase) change.passphrase = null;
  const elevation = (values.elevation || null) as Host['elevation'];
  if (elevation !== h.elevation) change.elevation = elevation;
  if (values.elevationPassword) change.elevationPassword = values.elevationPassword;
  return change;
}

/** Whether a change changes anything. */
export function isEmptyChange(change: HostChange): boolean {
  return Object.keys(change).length === 1;
}

function isField(name: string): name is FieldName {
  return (FIELDS as readonly string[]).includes(name);
}

/** hosts.update names a rename `newName`; the form calls it Name. */
const FIELD_ALIASES: Record<string, FieldName> = { newName: 'name' };

/**
 * Maps an error from hosts.add onto the form's fields: INVALID_INPUT names them in its
 * details; ALREADY_EXISTS can only be about the name. Whatever names no field of the
 * form comes back as `unmatched`, for a message above the buttons.
 */
export function serverErrors(e: unknown): { fields: FormErrors; unmatched: string[] } {
  const fields: FormErrors = {};
  const unmatched: string[] = [];
  if (e instanceof ApiError && e.code === 'ALREADY_EXISTS') {
    fields.name = e.message.charAt(0).toUpperCase() + e.message.slice(1);
    return { fields, unmatched };
  }
  for (const f of fieldErrors(e)) {
    const field = FIELD_ALIASES[f.field] ?? f.field;
    if (!isField(field)) unmatched.push(`${f.field}: ${f.message}`);
    else fields[field] ??= `${LABELS[field]}: ${f.message}`;
  }
  return { fields, unmatched };
}
