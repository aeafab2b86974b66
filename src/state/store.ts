/** One open state database with its tables' APIs: what a CLI command that changes state works through. */
import { UserStore } from '../identity/user-store.js';
import { AddressStore } from './addresses.js';
import { ChangeLog } from './changes.js';
import { openStateDatabase, type StateDatabase } from './database.js';
import { ExceptionStore } from './exceptions.js';
import { UnblockRequestStore } from './unblock-requests.js';
import { SelftestLog } from './selftests.js';

export class StateStore {
  readonly db: StateDatabase;
  readonly users: UserStore;
  readonly changes: ChangeLog;
  readonly addresses: AddressStore;
  readonly selftests: SelftestLog;
  readonly exceptions: ExceptionStore;
  readonly requests: UnblockRequestStore;

  constructor(dataDir: string) {
    this.db = openStateDatabase(dataDir);
    this.users = new UserStore(this.db);
    this.changes = new ChangeLog(this.db);
    this.addresses = new AddressStore(this.db);
    this.selftests = new SelftestLog(this.db);
    this.exceptions = new ExceptionStore(this.db);
    this.requests = new UnblockRequestStore(this.db);
  }

  /** Runs fn in one transaction: the change and its admin-changes row commit together or not at all. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    this.db.close();
  }
}

/** Opens the state database for one command and closes it afterwards. */
export async function withState<T>(dataDir: string, fn: (state: StateStore) => T | Promise<T>): Promise<T> {
  const state = new StateStore(dataDir);
  try {
    return await fn(state);
  } finally {
    state.close();
  }
}
