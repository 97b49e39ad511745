/**
 * Seals that earlier versions stored unbound (secret-box.ts kinds 1 and 2) are sealed again,
 * bound to their rows, the first time a door that can open them opens the store. What this
 * door cannot open (the keychain's, from the CLI) waits for the desktop app.
 */
import type Database from 'better-sqlite3';
import { credentialContext } from '../hosts/host-service';
import { variableContext } from '../vars/variable-service';
import { SEALED_BY, type SecretBox } from './secret-box';

const LEGACY = `(hex(substr(sealed, 1, 1)) in ('${SEALED_BY.keyFile.toString(16).padStart(2, '0')}', '${SEALED_BY.safeStorage.toString(16).padStart(2, '0')}'))`;

/** Reseals every legacy seal this box can open; returns how many were resealed. */
export function resealLegacy(db: Database.Database, box: SecretBox): number {
  // Every start of every door comes here: a read first, the write transaction only when needed.
  const any = db.prepare(`select exists(select 1 from credentials where ${LEGACY}) or exists(select 1 from variables where secret = 1 and sealed is not null and ${LEGACY})`).pluck().get();
  if (!any) return 0;
  let n = 0;
  const reseal = (sealed: Buffer, context: string): Buffer | undefined => {
    try {
      return box.seal(box.openLegacy(sealed), context);
    } catch {
      return undefined; // another door's box: left as it is
    }
  };
  db.transaction(() => {
    const creds = db.prepare(`select host_id, kind, sealed from credentials where ${LEGACY}`).all() as { host_id: number; kind: string; sealed: Buffer }[];
    const setCred = db.prepare('update credentials set sealed = ? where host_id = ? and kind = ?');
    for (const c of creds) {
      const next = reseal(c.sealed, credentialContext(c.host_id, c.kind));
      if (next) n += setCred.run(next, c.host_id, c.kind).changes;
    }
    const vars = db.prepare(`select id, host_id, key, sealed from variables where secret = 1 and sealed is not null and ${LEGACY}`).all() as { id: number; host_id: number | null; key: string; sealed: Buffer }[];
    const setVar = db.prepare('update variables set sealed = ? where id = ?');
    for (const v of vars) {
      const next = reseal(v.sealed, variableContext(v.host_id, v.key));
      if (next) n += setVar.run(next, v.id).changes;
    }
  }).immediate();
  return n;
}
