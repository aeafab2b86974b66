/**
 * Headless Debian chromium for browser tests.
 *
 *   const chromium = findChromium();
 *   describe.skipIf(!chromium)('...', () => { ... });
 *
 * Every run gets a fresh temporary profile (--user-data-dir), the flags below (no background networking, no
 * component updates, no QUIC), a time limit, and the whole process tree is killed at the end. When
 * `proxyServer` is given, loopback addresses go through the proxy too (chromium bypasses them by default).
 * `home` sets HOME, e.g. one whose NSS database trusts the school CA (helpers/nss.ts). Tests that must click
 * use `launchChromium()`: the same binary and flags, driven by puppeteer-core.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** The chromium binary, or null when it is not installed (use with describe.skipIf). */
export function findChromium(): string | null {
  return existsSync(CHROMIUM_PATH) ? CHROMIUM_PATH : null;
}

export const SKIP_MESSAGE = `chromium not found at ${CHROMIUM_PATH}: browser tests skipped (apt-get install -y chromium)`;

export const BASE_FLAGS: readonly string[] = Object.freeze([
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-dev-shm-usage',
  '--no-default-browser-check',
  '--disable-extensions',
  '--disable-default-apps',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
  '--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,DialMediaRouteProvider',
  '--no-pings',
  '--mute-audio',
  '--hide-scrollbars',
  '--password-store=basic',
  '--use-mock-keychain',
]);

export interface ChromiumCommon {
  url: string;
  /** e.g. 'http://127.0.0.1:3128'. Loopback is then proxied too. */
  proxyServer?: string;
  /** More flags, e.g. '--ignore-certificate-errors', '--host-resolver-rules=MAP * 127.0.0.1'. */
  extraArgs?: string[];
  /** Whole run, default 30 s. */
  timeoutMs?: number;
  /**
   * HOME for the browser. Chromium on Linux reads its NSS certificate database from $HOME/.pki/nssdb, so a
   * HOME made by `nssHomeTrusting()` (helpers/nss.ts) makes it trust the school CA like an enrolled device.
   */
  home?: string;
}

export interface ChromiumRun {
  stdout: string;
  stderr: string;
  /** Exit code, or null when we killed it (after the output appeared, or at the timeout). */
  code: number | null;
}

interface RunOptions extends ChromiumCommon {
  args: string[];
  /** Finish as soon as this file exists with a stable, non-zero size (chromium sometimes lingers). */
  waitForFile?: string;
  /** Finish as soon as stdout satisfies this. */
  stdoutDone?: (stdout: string) => boolean;
}

function tail(text: string, max = 2000): string {
  return text.length > max ? `…${text.slice(-max)}` : text;
}

async function runChromium(opts: RunOptions): Promise<ChromiumRun> {
  const bin = findChromium();
  if (!bin) throw new Error(SKIP_MESSAGE);
  const profile = mkdtempSync(join(tmpdir(), 'sg-chromium-'));
  const args = [...BASE_FLAGS, `--user-data-dir=${profile}`];
  if (opts.proxyServer) args.push(`--proxy-server=${opts.proxyServer}`, '--proxy-bypass-list=<-loopback>');
  args.push(...(opts.extraArgs ?? []), ...opts.args, opts.url);
  const timeoutMs = opts.timeoutMs ?? 30_000;

  // detached: chromium gets its own process group, so the whole tree (wrapper script, browser, zygotes,
  // renderers, GPU/network services) can be killed with one signal to the negative pid.
  const child = spawn(bin, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: opts.home ? { ...process.env, HOME: opts.home } : process.env,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

  const killTree = (): void => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };

  try {
    return await new Promise<ChromiumRun>((resolve, reject) => {
      let settled = false;
      let lastSize = -1;
      const finish = (result: ChromiumRun | Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearInterval(poll);
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      const outputReady = (): boolean => {
        if (opts.stdoutDone?.(stdout)) return true;
        if (opts.waitForFile && existsSync(opts.waitForFile)) {
          const size = statSync(opts.waitForFile).size;
          const stable = size > 0 && size === lastSize;
          lastSize = size;
          return stable;
        }
        return false;
      };
      const poll = setInterval(() => {
        if (outputReady()) finish({ stdout, stderr, code: null });
      }, 100);
      const timer = setTimeout(() => {
        const fileWritten =
          opts.waitForFile !== undefined &&
          existsSync(opts.waitForFile) &&
          statSync(opts.waitForFile).size > 0;
        if (fileWritten || opts.stdoutDone?.(stdout)) {
          finish({ stdout, stderr, code: null });
          return;
        }
        finish(new Error(`chromium timed out after ${timeoutMs} ms on ${opts.url}\nstderr: ${tail(stderr)}`));
      }, timeoutMs);
      child.on('error', (err) => finish(err));
      child.on('close', (code) => {
        if (opts.waitForFile && !(existsSync(opts.waitForFile) && statSync(opts.waitForFile).size > 0)) {
          finish(
            new Error(
              `chromium exited (${code}) without writing ${opts.waitForFile}\nstderr: ${tail(stderr)}`,
            ),
          );
          return;
        }
        finish({ stdout, stderr, code });
      });
    });
  } finally {
    killTree();
    // Reap our direct child before deleting the profile it may still be writing to.
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const cap = setTimeout(resolve, 2000);
        child.once('exit', () => {
          clearTimeout(cap);
          resolve();
        });
      });
    }
    rmSync(profile, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 });
  }
}

export interface ScreenshotOptions extends ChromiumCommon {
  /** Where the PNG goes. */
  out: string;
  width?: number;
  height?: number;
}

/** Loads the URL and writes a PNG of the viewport to `out`. */
export async function chromiumScreenshot(opts: ScreenshotOptions): Promise<ChromiumRun> {
  rmSync(opts.out, { force: true });
  return runChromium({
    ...opts,
    args: [`--window-size=${opts.width ?? 1280},${opts.height ?? 900}`, `--screenshot=${opts.out}`],
    waitForFile: opts.out,
  });
}

/** Loads the URL and writes a PDF to `out`. */
export async function chromiumPrintToPdf(opts: ChromiumCommon & { out: string }): Promise<ChromiumRun> {
  rmSync(opts.out, { force: true });
  return runChromium({
    ...opts,
    args: [`--print-to-pdf=${opts.out}`, '--no-pdf-header-footer'],
    waitForFile: opts.out,
  });
}

/** Loads the URL and returns the serialised DOM after load (what the page became, not its source). */
export async function chromiumDumpDom(opts: ChromiumCommon): Promise<string> {
  return (await chromiumLoad(opts)).dom;
}

export interface ChromiumLoad {
  /** The serialised DOM after load; '' when the page did not load. */
  dom: string;
  /** Why the load failed, as chromium logs it (e.g. 'net::ERR_TUNNEL_CONNECTION_FAILED'), else null. */
  loadError: string | null;
}

/** chromiumDumpDom, plus the network error when headless chromium could not load the page at all. */
export async function chromiumLoad(opts: ChromiumCommon): Promise<ChromiumLoad> {
  const run = await runChromium({
    ...opts,
    args: ['--dump-dom'],
    stdoutDone: (out) => /<\/html>\s*$/i.test(out),
  });
  const failed = /Page load failed: (\S+)/.exec(run.stderr)?.[1] ?? null;
  return { dom: run.stdout, loadError: failed };
}

export interface DrivenBrowser {
  /** puppeteer-core's Browser, driving the Debian chromium over the DevTools protocol. */
  browser: import('puppeteer-core').Browser;
  /** Kills the browser and deletes its profile. */
  close(): Promise<void>;
}

/**
 * Launches the Debian chromium (never a downloaded one) under puppeteer-core, with the same flags, proxy
 * handling and HOME as the one-shot runs above, for tests that must click.
 */
export async function launchChromium(
  opts: Omit<ChromiumCommon, 'url'> & { timeoutMs?: number } = {},
): Promise<DrivenBrowser> {
  const bin = findChromium();
  if (!bin) throw new Error(SKIP_MESSAGE);
  const { default: puppeteer } = await import('puppeteer-core');
  const profile = mkdtempSync(join(tmpdir(), 'sg-chromium-'));
  const args = BASE_FLAGS.filter((f) => f !== '--headless');
  if (opts.proxyServer) args.push(`--proxy-server=${opts.proxyServer}`, '--proxy-bypass-list=<-loopback>');
  args.push(...(opts.extraArgs ?? []));
  const timeout = opts.timeoutMs ?? 30_000;
  const browser = await puppeteer.launch({
    executablePath: bin,
    headless: true,
    userDataDir: profile,
    args,
    env: opts.home ? { ...process.env, HOME: opts.home } : process.env,
    timeout,
    protocolTimeout: timeout,
  });
  return {
    browser,
    close: async () => {
      const proc = browser.process();
      try {
        await browser.close();
      } catch {
        // already gone
      }
      if (proc?.pid !== undefined && proc.exitCode === null && proc.signalCode === null) {
        try {
          process.kill(proc.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      rmSync(profile, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 });
    },
  };
}
