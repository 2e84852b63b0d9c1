import type { Migration } from 'kysely/migration';
import type { StoreDialect } from '../db.js';
import { init0001 } from './0001-init.js';
import { reconciler0002 } from './0002-reconciler.js';
import { secrets0003 } from './0003-secrets.js';
import { egress0004 } from './0004-egress.js';
import { runtimeImages0005 } from './0005-runtime-images.js';

/** Versioned migrations, applied in name order at start. Never edit one that has shipped; add a new one. */
export function migrations(dialect: StoreDialect): Record<string, Migration> {
  return {
    '0001-init': init0001(dialect),
    '0002-reconciler': reconciler0002(),
    '0003-secrets': secrets0003(),
    '0004-egress': egress0004(),
    '0005-runtime-images': runtimeImages0005(),
  };
}
