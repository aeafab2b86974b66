/** The pure parts of the sinks: defanging, the HTML escaping, the subject, and the config's TLS rules. */
import { describe, expect, it } from 'vitest';
import { alertSinksSchema, emailSinkSchema, webhookSinkSchema } from '../../../src/alerts/sinks/config.js';
import { makeTestAlert } from '../../../src/alerts/sinks/index.js';
import { alertHtml, alertSubject, defang, escapeHtml } from '../../../src/alerts/sinks/render.js';

describe('defang', () => {
  it.each([
    ['https://example.com/path', 'hxxps://example[.]com/path'],
    ['HTTP://Example.COM', 'HxxP://Example[.]COM'],
    ['ftp://files.example/a.zip', 'fxp://files[.]example/a[.]zip'],
    ['translate.example/?u=http://evil.example', 'translate[.]example/?u=hxxp://evil[.]example'],
    ['write to me at kid@evil.example', 'write to me at kid[@]evil[.]example'],
    ['http://192.168.1.10:8080/', 'hxxp://192[.]168[.]1[.]10:8080/'],
    ['how to k1ll myself', 'how to k1ll myself'],
    ['the end.', 'the end.'],
  ])('%s → %s', (input, out) => {
    expect(defang(input)).toBe(out);
  });

  it('escapes HTML', () => {
    expect(escapeHtml(`<img src=x onerror="a('b')">&`)).toBe(
      '&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;',
    );
  });

  it('a subject cannot carry a header break, and never the URL or search term', () => {
    const a = { ...makeTestAlert(), test: false, user: 'evil\r\nBcc: x@y.example', count: 1 };
    const subject = alertSubject(a);
    expect(subject).not.toMatch(/[\r\n]/);
    expect(subject).not.toContain('schoolgate-test.invalid');
    expect(subject).not.toContain(a.searchTerm!);
  });

  it('the HTML part has no link even for a URL made of markup', () => {
    const html = alertHtml(
      { ...makeTestAlert(), url: 'https://x.example/"><a href="https://y.example">' },
      'UTC',
    );
    expect(html).not.toMatch(/<a[\s>]/i);
    expect(html).not.toContain('https://');
  });
});

describe('config', () => {
  const base = { from: 'sg@school.example', to: ['dsl@school.example'] };

  it('fills defaults: STARTTLS required, certificates verified, 5 attempts', () => {
    const email = emailSinkSchema.parse({ ...base, host: 'smtp.school.example' });
    expect(email).toMatchObject({
      port: 587,
      secure: false,
      starttls: true,
      rejectUnauthorized: true,
      maxAttempts: 5,
    });
    expect(alertSinksSchema.parse({})).toEqual({ webhook: null, email: null });
  });

  it('plain SMTP only to a loopback relay', () => {
    expect(emailSinkSchema.safeParse({ ...base, host: 'smtp.school.example', starttls: false }).success).toBe(
      false,
    );
    expect(emailSinkSchema.safeParse({ ...base, host: '127.0.0.1', port: 25, starttls: false }).success).toBe(
      true,
    );
    expect(
      emailSinkSchema.safeParse({ ...base, host: 'smtp.school.example', secure: true, port: 465 }).success,
    ).toBe(true);
  });

  it('SMTP credentials come in pairs, from files or the environment', () => {
    expect(emailSinkSchema.safeParse({ ...base, host: 'h.example', user: 'a' }).success).toBe(false);
    expect(emailSinkSchema.safeParse({ ...base, host: 'h.example', passwordEnv: 'P' }).success).toBe(false);
    expect(
      emailSinkSchema.safeParse({ ...base, host: 'h.example', user: 'a', passwordEnv: 'P' }).success,
    ).toBe(true);
    expect(emailSinkSchema.safeParse({ ...base, host: 'h.example', password: 'inline' }).success).toBe(false);
  });

  it('the webhook needs a secret source and https (http only to loopback)', () => {
    expect(webhookSinkSchema.safeParse({ url: 'https://hooks.example/x' }).success).toBe(false);
    expect(webhookSinkSchema.safeParse({ url: 'http://hooks.example/x', secretEnv: 'S' }).success).toBe(
      false,
    );
    expect(webhookSinkSchema.safeParse({ url: 'http://127.0.0.1:9000/x', secretEnv: 'S' }).success).toBe(
      true,
    );
    expect(
      webhookSinkSchema.safeParse({ url: 'https://hooks.example/x', secretFile: '/etc/s' }).success,
    ).toBe(true);
    expect(webhookSinkSchema.safeParse({ url: 'https://hooks.example/x', secret: 'inline' }).success).toBe(
      false,
    );
  });
});
