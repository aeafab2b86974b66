/** The pure parts of `lists update`: reading a checksum file, judging tar headers, comparing generations. */
import { describe, expect, it } from 'vitest';
import { checksumFor, fileNameOf } from '../../../src/lists/update/checksum.js';
import { compareSorted, hash64 } from '../../../src/lists/update/diff.js';
import { refusedEntry } from '../../../src/lists/update/unpack.js';

const MD5 = '0123456789abcdef0123456789abcdef';
const SHA256 = 'ab'.repeat(32);

describe('checksumFor', () => {
  it.each([
    ['md5sum text mode', `${MD5}  blacklists.tar.gz\n`, { algorithm: 'md5', hex: MD5 }],
    ['md5sum binary mode', `${MD5} *blacklists.tar.gz\n`, { algorithm: 'md5', hex: MD5 }],
    ['upper-case digest', `${MD5.toUpperCase()}  blacklists.tar.gz\n`, { algorithm: 'md5', hex: MD5 }],
    ['sha256sum', `${SHA256}  blacklists.tar.gz\n`, { algorithm: 'sha256', hex: SHA256 }],
    ['a path before the name', `${MD5}  download/blacklists.tar.gz\n`, { algorithm: 'md5', hex: MD5 }],
    [
      'among other files',
      `${'f'.repeat(32)}  adult.tar.gz\n${MD5}  blacklists.tar.gz\r\n`,
      { algorithm: 'md5', hex: MD5 },
    ],
    ['another file only', `${MD5}  adult.tar.gz\n`, undefined],
    ['a name that only ends the same', `${MD5}  old-blacklists.tar.gz\n`, undefined],
    ['a digest of no known length (SHA-1)', `${'a'.repeat(40)}  blacklists.tar.gz\n`, undefined],
    ['an HTML error page', '<html><body>Not found</body></html>\n', undefined],
  ])('%s', (_name, text, expected) => {
    expect(checksumFor(text, 'blacklists.tar.gz')).toEqual(expected);
  });

  it('names the file a URL downloads', () => {
    expect(fileNameOf('https://dsi.ut-capitole.fr/blacklists/download/blacklists.tar.gz')).toBe(
      'blacklists.tar.gz',
    );
  });
});

describe('refusedEntry', () => {
  it.each([
    ['File', 'blacklists/adult/domains', undefined],
    ['Directory', 'blacklists/adult/', undefined],
    ['SymbolicLink', 'blacklists/porn', undefined],
    ['File', '/etc/cron.d/x', 'absolute path /etc/cron.d/x'],
    ['File', 'C:/x', 'absolute path C:/x'],
    ['File', 'blacklists/../../x', "path blacklists/../../x climbs out of the archive's folder"],
    ['File', 'blacklists\\..\\x', "path blacklists\\..\\x climbs out of the archive's folder"],
    ['Link', 'blacklists/adult/urls', 'blacklists/adult/urls is a Link'],
    ['CharacterDevice', 'dev/null', 'dev/null is a CharacterDevice'],
    ['FIFO', 'pipe', 'pipe is a FIFO'],
  ])('%s %s', (type, name, expected) => {
    expect(refusedEntry(type, name)).toBe(expected);
  });
});

describe('compareSorted', () => {
  const arr = (...keys: string[]) => new BigUint64Array(keys.map(hash64)).sort();
  it.each([
    [[], [], { before: 0, after: 0, added: 0, removed: 0 }],
    [[], ['d a'], { before: 0, after: 1, added: 1, removed: 0 }],
    [['d a', 'd b'], ['d b', 'd c', 'd d'], { before: 2, after: 3, added: 2, removed: 1 }],
    [['d a', 'u a/x'], ['d a', 'u a/x'], { before: 2, after: 2, added: 0, removed: 0 }],
  ])('%j -> %j', (before, after, expected) => {
    expect(compareSorted(arr(...before), arr(...after))).toEqual(expected);
  });

  it('a domain and a URL entry of the same text are different keys', () => {
    expect(hash64('d example.com')).not.toBe(hash64('u example.com'));
  });
});
