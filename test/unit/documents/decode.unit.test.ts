/**
 * Document decoding: strict UTF-8, NUL bytes refused, and the slice-by-slice decoder that large documents go
 * through giving exactly the text of the whole decode.
 */
import fc from 'fast-check';
import { checkText, decodeCheckedText, decodeSlices, decodeText } from '../../../shared/documents';

const INVALID: [string, number[]][] = [
  ['an overlong encoding', [0x61, 0xc0, 0xaf]],
  ['an encoded surrogate', [0xed, 0xa0, 0x80]],
  ['a truncated sequence', [0x61, 0xe2, 0x82]],
  ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ['a lone continuation byte', [0x80, 0x61]],
  ['Latin-1', [...Buffer.from('caf\xe9', 'latin1')]],
];

describe('checkText', () => {
  it.each(INVALID)('refuses %s, as decodeText does', (_name, bytes) => {
    const b = Uint8Array.from(bytes);
    expect(() => decodeText(b)).toThrow(expect.objectContaining({ code: 'unsupported_content' }));
    expect(() => checkText(b)).toThrow(expect.objectContaining({ code: 'unsupported_content' }));
  });

  it('refuses NUL bytes as binary content', () => {
    expect(() => checkText(Buffer.from('text\u0000more'))).toThrow(/binary/);
  });

  it('accepts every string encoded as UTF-8, and agrees with decodeText on random bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        const b = Buffer.from(s.replaceAll('\u0000', ''), 'utf8');
        expect(() => checkText(b)).not.toThrow();
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
        let whole = true;
        try {
          decodeText(b);
        } catch {
          whole = false;
        }
        let checked = true;
        try {
          checkText(b);
        } catch {
          checked = false;
        }
        expect(checked).toBe(whole);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('decodeSlices', () => {
  it('joins to exactly the whole decode, whatever the slice size (characters cut by a slice included)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 300 }),
        fc.integer({ min: 1, max: 64 }),
        (s, size) => {
          const b = Buffer.from(`\ufeff${s.replaceAll('\u0000', '')}`, 'utf8');
          expect([...decodeSlices(b, size)].join('')).toBe(decodeText(b));
          expect(decodeCheckedText(b)).toBe(decodeText(b));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('drops a leading byte-order mark like decodeText, and yields nothing for no bytes', () => {
    const b = Buffer.from('\ufeffhello', 'utf8');
    expect([...decodeSlices(b, 2)].join('')).toBe('hello');
    expect(decodeText(b)).toBe('hello');
    expect([...decodeSlices(new Uint8Array(0))]).toEqual([]);
  });
});
