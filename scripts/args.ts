/** Command-line options of the soak scripts: `--name value` and bare `--flag`. */
const argv = process.argv.slice(2);

export function numberOption(name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
}

export function stringOption(name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

export function flag(name: string): boolean {
  return argv.includes(`--${name}`);
}

/** A space-separated option as a list (node flags for the proxy). */
export function listOption(name: string): string[] {
  return (stringOption(name) ?? '').split(' ').filter((s) => s !== '');
}
