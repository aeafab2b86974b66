/**
 * What an update changes in one category: entries added and removed between two generations of the
 * provider layer. A category can hold millions of entries (UT1 adult: 4.6 million), so entries are not
 * gathered as strings: each key is hashed to 64 bits into a typed array (8 bytes an entry), the arrays are
 * sorted natively and walked side by side. Two different keys sharing a hash would be counted as one; at
 * 64 bits and a few million keys the odds are below one in a million, and these are counts for a person.
 */
import path from 'node:path';
import { isFile, shippedFiles } from '../catalogue.js';
import { domainLineKey, urlLineKey } from '../entry.js';
import { forEachLine } from '../read-lines.js';

export interface CategoryChange {
  before: number;
  after: number;
  added: number;
  removed: number;
}

class HashList {
  private data = new BigUint64Array(1024);
  length = 0;

  push(key: string): void {
    if (this.length === this.data.length) {
      const grown = new BigUint64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = hash64(key);
  }

  sorted(): BigUint64Array {
    return this.data.subarray(0, this.length).sort();
  }
}

/** Two independent 32-bit hashes (FNV-1a and a multiply-xorshift one) side by side: fast, no allocation. */
export function hash64(key: string): bigint {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return (BigInt(a >>> 0) << 32n) | BigInt(b >>> 0);
}

/** Sorted, de-duplicated key hashes of one category of a layer folder (undefined folder: none). */
async function categoryHashes(layerDir: string | undefined, category: string): Promise<BigUint64Array> {
  const list = new HashList();
  if (layerDir === undefined) return list.sorted();
  const dirs = { categoriesDir: layerDir, dataDir: '' };
  for (const kind of ['domains', 'urls'] as const) {
    const keyOf = kind === 'domains' ? domainLineKey : urlLineKey;
    await forEachLine(await shippedFiles(dirs, category, kind), (line) => {
      const key = keyOf(line);
      if (key !== undefined) list.push(key);
    });
  }
  const expressions = path.join(layerDir, category, 'expressions');
  if (await isFile(expressions))
    await forEachLine([expressions], (line) => {
      if (line.trim() !== '' && !line.startsWith('#')) list.push(`r ${line.trim()}`);
    });
  return unique(list.sorted());
}

function unique(a: BigUint64Array): BigUint64Array {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (i === 0 || a[i] !== a[n - 1]) a[n++] = a[i]!;
  return a.subarray(0, n);
}

/** Counts of a merge walk over two sorted, de-duplicated arrays. */
export function compareSorted(before: BigUint64Array, after: BigUint64Array): CategoryChange {
  let i = 0;
  let j = 0;
  let common = 0;
  while (i < before.length && j < after.length) {
    if (before[i] === after[j]) {
      common++;
      i++;
      j++;
    } else if (before[i]! < after[j]!) i++;
    else j++;
  }
  return {
    before: before.length,
    after: after.length,
    added: after.length - common,
    removed: before.length - common,
  };
}

/** The change of one category between the generation in force (if any) and the new one. */
export async function categoryChange(
  beforeDir: string | undefined,
  afterDir: string,
  category: string,
): Promise<CategoryChange> {
  return compareSorted(await categoryHashes(beforeDir, category), await categoryHashes(afterDir, category));
}
