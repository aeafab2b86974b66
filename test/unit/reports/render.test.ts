import { describe, expect, it } from 'vitest';
import { csvCell } from '../../../src/reports/render-csv.js';
import { renderHtml } from '../../../src/reports/render-html.js';
import { renderText } from '../../../src/reports/render-text.js';
import type { ReportDoc } from '../../../src/reports/model.js';

describe('CSV cells', () => {
  it.each([
    ['=HYPERLINK("http://x","y")', `"'=HYPERLINK(""http://x"",""y"")"`],
    ['+1+1', "'+1+1"],
    ['-2+3', "'-2+3"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\t=1', "'\t=1"],
    ['\r=1', `"'\r=1"`],
    ['plain, with comma', '"plain, with comma"'],
    ['a "quote"', '"a ""quote"""'],
    ['line\r\nbreak', '"line\r\nbreak"'],
  ])('%j → %j', (input, output) => {
    expect(csvCell(input)).toBe(output);
  });

  it('leaves numbers and empty values alone', () => {
    expect(csvCell(-1)).toBe('-1');
    expect(csvCell(null)).toBe('');
    expect(csvCell(undefined)).toBe('');
  });
});

const HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'\r\nFAKE LINE\u202egnp.exe';

const doc: ReportDoc = {
  title: `Report: ${HOSTILE}`,
  subtitle: HOSTILE,
  header: [[HOSTILE, HOSTILE]],
  footer: HOSTILE,
  sections: [
    {
      heading: HOSTILE,
      paragraphs: [HOSTILE],
      facts: [[HOSTILE, HOSTILE]],
      figures: [{ label: HOSTILE, value: HOSTILE }],
      charts: [
        { kind: 'bars', title: HOSTILE, labels: [HOSTILE], values: [3], overlay: [1], valueLabel: HOSTILE },
        {
          kind: 'hbars',
          title: HOSTILE,
          labels: [HOSTILE],
          values: [[1, 2]],
          segments: [
            { name: HOSTILE, tone: 'allow' },
            { name: 'blocked', tone: 'block' },
          ],
        },
      ],
      table: { columns: [HOSTILE], rows: [[HOSTILE]], marked: [0] },
    },
  ],
};

describe('HTML report', () => {
  const page = renderHtml(doc);
  it('escapes every value: no element or attribute comes from the data', () => {
    expect(page).not.toMatch(/<script|<img|<iframe/i);
    expect(page).toContain(
      '&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&quot;&#39;␍␊FAKE LINE',
    );
    expect(page).not.toContain('\u202e');
  });
  it('is self-contained: CSP meta, inline style and SVG, no external reference', () => {
    expect(page).toContain(`http-equiv="Content-Security-Policy"`);
    expect(page).toContain('default-src &#39;none&#39;'); // an entity in an attribute is the quote
    expect(page).not.toMatch(/<link|@import|url\(|\s(src|href)=["']/i);
    expect(page.match(/<svg/g)).toHaveLength(2);
  });
  it('prints on A4 with a repeated header and footer', () => {
    expect(page).toContain('@page{size:A4');
    expect(page).toMatch(/<table class="page">\s*<thead>/);
    expect(page).toContain('<tfoot>');
  });
});

describe('text report', () => {
  it('makes control characters visible instead of printing them', () => {
    const text = renderText(doc);
    expect(text).not.toContain('\r');
    expect(text).not.toContain('\u202e');
    expect(text).toContain('␍␊FAKE LINE');
  });
});

describe('marked text (a matched search term)', () => {
  const term = { text: `how to <b>kill myself</b>\u202e`, marks: [[10, 21]] as const };
  const marked: ReportDoc = {
    title: 't',
    subtitle: '',
    header: [],
    footer: '',
    sections: [{ heading: 'h', table: { columns: ['Search term'], rows: [[term]] } }],
  };

  it('is »marked« in text, with control characters still made visible', () => {
    const text = renderText(marked);
    expect(text).toContain('how to <b>»kill myself«</b>\ufffd');
    expect(text).not.toContain('\u202e');
  });

  it('is a <mark> in HTML, every piece escaped', () => {
    const page = renderHtml(marked);
    expect(page).toContain('how to &lt;b&gt;<mark>kill myself</mark>&lt;/b&gt;\ufffd');
    expect(page).not.toContain('<b>');
  });

  it('is the bare text in CSV, formulas still neutralised', () => {
    expect(csvCell(term)).toBe(term.text);
    expect(csvCell({ text: '=1+1', marks: [[1, 2]] })).toBe("'=1+1");
  });

  it('ignores marks outside the text or overlapping', () => {
    const text = renderText({
      ...marked,
      sections: [
        {
          heading: 'h',
          table: {
            columns: ['c'],
            rows: [
              [
                {
                  text: 'abc',
                  marks: [
                    [1, 2],
                    [1, 3],
                    [2, 9],
                  ],
                },
              ],
            ],
          },
        },
      ],
    });
    expect(text).toContain('a»b«c');
  });
});
