export { openStore, type Store, type Db, type StoreOptions } from './db.js';
export { migrateToLatest } from './migrate.js';
export type * from './schema.js';
