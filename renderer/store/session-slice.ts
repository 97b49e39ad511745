/** The session slice: app.info and the state of the connection to the app. */
import type { CroniumApi } from '../../electron/shared/api';
import { toErrorInfo } from '../api';
import type { SessionSlice, SessionState, SliceCreator } from './types';

/** Creates the session slice; `connection` starts as the door reports it. */
export function createSessionSlice(api: CroniumApi, initial: SessionState['connection']): SliceCreator<SessionSlice> {
  return (set) => {
    const patch = (p: Partial<SessionState>) => set((s) => ({ session: { ...s.session, ...p } }));
    return {
      session: {
        info: null,
        infoError: null,
        connection: initial,
        failures: 0,
        async loadInfo() {
          try {
            patch({ info: await api.app.info(), infoError: null });
          } catch (e) {
            patch({ infoError: toErrorInfo(e) });
          }
        },
        setConnection(connection, failures) {
          patch({ connection, failures });
        },
      },
    };
  };
}
