/**
 * Branding through a running proxy: the block page names the school and shows its logo and contact line,
 * /schoolgate-logo serves the checked logo, a logo that is not an image stops the start, and a CA created
 * with tls.caName carries that name.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import { runCli } from '../../helpers/cli.js';
import { ownPage, viaProxy } from '../../helpers/raw-http.js';
import { startTestProxy, tempDir, testConfig } from '../../helpers/schoolgate.js';
import http from 'node:http';

const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.from('0000000d49484452', 'hex')]);
let sg: RunningSchoolgate | undefined;
afterEach(async () => {
  await sg?.stop();
  sg = undefined;
});

function logoResponse(port: number): Promise<{ status: number; type: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) =>
    http
      .get({ host: '127.0.0.1', port, path: '/schoolgate-logo' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers['content-type'],
            body: Buffer.concat(chunks),
          }),
        );
      })
      .on('error', reject),
  );
}

describe('branding on a running proxy', () => {
  it('shows the school on the block page and serves the logo', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'logo.png'), PNG);
    sg = await startTestProxy(
      testConfig(
        {
          tls: { inspect: false },
          branding: {
            schoolName: 'Hillside Primary',
            logoFile: 'logo.png',
            contact: 'Ask Mr Patel in IT, room 12',
          },
        },
        dir,
      ),
    );
    const port = sg.address.port;
    const page = await viaProxy(port, 'http://social.test/');
    expect(page.status).toBe(403);
    expect(page.body).toContain('<span class="school-name">Hillside Primary</span>');
    expect(page.body).toContain(`data:image/png;base64,${PNG.toString('base64')}`);
    expect(page.body).toContain('<p class="contact">Ask Mr Patel in IT, room 12</p>');

    const logo = await logoResponse(port);
    expect(logo).toMatchObject({ status: 200, type: 'image/png' });
    expect(logo.body.equals(PNG)).toBe(true);
  });

  it('answers 404 for the logo when none is configured', async () => {
    sg = await startTestProxy(testConfig({ tls: { inspect: false } }));
    expect((await logoResponse(sg.address.port)).status).toBe(404);
    expect(await ownPage(sg.address.port, '/schoolgate-logo')).toContain('branding.logoFile');
  });

  it('does not start with a logo that is not an image', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'logo.png'), '<svg onload="alert(1)"/>');
    const config = testConfig({ tls: { inspect: false }, branding: { logoFile: 'logo.png' } }, dir);
    await expect(startTestProxy(config)).rejects.toMatchObject({ code: 'SG_LOGO_INVALID' });
    writeFileSync(path.join(dir, 'config.yaml'), JSON.stringify({ branding: { logoFile: 'logo.png' } }));
    const check = await runCli([
      'config',
      'check',
      path.join(dir, 'config.yaml'),
      '--data',
      path.join(dir, 'data'),
    ]);
    expect(check.code).not.toBe(0);
    expect(check.stderr).toContain('SG_LOGO_INVALID');
  });

  it('names a new school CA after tls.caName', async () => {
    const dir = tempDir();
    sg = await startTestProxy(
      testConfig({ tls: { caName: 'Hillside Primary web filter', certsDir: path.join(dir, 'certs') } }, dir),
    );
    const cert = new X509Certificate(sg.proxy.tls!.ca.certPem);
    expect(cert.subject).toContain('O=Hillside Primary web filter');
    expect(cert.subject).toMatch(/CN=Hillside Primary web filter \(/);
  });
});
