/**
 * Why the server did not start, in the user's words: the last lines the server wrote to
 * stderr are kept while it starts, and a failed start is described from them (or from the
 * operating system's spawn error), never from a guess. Nothing here imports `vscode`, so it
 * is unit-tested with node's own test runner.
 */

/** The last lines a server process wrote to stderr, bounded in lines and characters. */
export class StderrTail {
  private kept: string[] = [];

  constructor(
    private readonly maxLines = 40,
    private readonly maxLineChars = 400,
  ) {}

  /** Forget the previous process's lines (a new process starts). */
  clear(): void {
    this.kept = [];
  }

  push(line: string): void {
    const clean = line.replace(/\r$/, '');
    this.kept.push(clean.length > this.maxLineChars ? `${clean.slice(0, this.maxLineChars)}…` : clean);
    if (this.kept.length > this.maxLines) this.kept.shift();
  }

  lines(): readonly string[] {
    return this.kept;
  }
}

/** What went wrong, for the notification and for the buttons next to it. */
export interface StartFailure {
  message: string;
  /** The setting that fixes it, when the cause is the executable itself. */
  setting?: 'chatls.serverPath';
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  if (error === undefined || error === null) return '';
  try {
    return JSON.stringify(error);
  } catch {
    return '';
  }
}

/**
 * The stderr lines that say what went wrong: those naming an error (`error: unexpected
 * argument …` from the argument parser, `ERROR …` from the log), else the last ones written.
 */
export function stderrCause(lines: readonly string[]): string[] {
  const written = lines.map((line) => line.trim()).filter((line) => line !== '');
  const errors = written.filter((line) => /\b(error|panicked|fatal)\b/i.test(line));
  const chosen = errors.length > 0 ? errors.slice(0, 2) : written.slice(-2);
  return chosen;
}

/**
 * A failed start described from what is known: the spawn error (`ENOENT`: not found,
 * `EACCES`: not executable), else the server's own stderr, else the client's error and a
 * pointer to the output channel.
 */
export function describeStartFailure(command: string, error: unknown, stderr: readonly string[]): StartFailure {
  const text = errorText(error);
  const where = command.includes('/') || command.includes('\\') ? '' : ' on PATH';
  if (/\bENOENT\b/.test(text)) {
    return {
      message: `chatls: the server "${command}" was not found${where}. Install it (cargo install --path . in the chatls repository) or set "chatls.serverPath" to the executable.`,
      setting: 'chatls.serverPath',
    };
  }
  if (/\bEACCES\b/.test(text)) {
    return {
      message: `chatls: the server "${command}" cannot be run (permission denied). Make it executable or set "chatls.serverPath" to the chatls executable.`,
      setting: 'chatls.serverPath',
    };
  }
  const cause = stderrCause(stderr);
  if (cause.length > 0) {
    return { message: `chatls: the server "${command}" stopped while starting: ${cause.join(' — ')}` };
  }
  const detail = text.trim() === '' ? '' : ` (${text.trim()})`;
  return {
    message: `chatls: the server "${command}" stopped while starting and wrote nothing to stderr${detail}. The chatls output channel has the client's log.`,
  };
}

/** A server that ran and stopped `times` times in a row and is left stopped. */
export function describeCrashes(command: string, times: number, stderr: readonly string[]): StartFailure {
  const cause = stderrCause(stderr);
  const last = cause.length > 0 ? `; its last words: ${cause.join(' — ')}` : '; it wrote nothing to stderr';
  return {
    message: `chatls: the server "${command}" stopped ${times} times within three minutes and is left stopped${last}. Run "chatls: Restart Server" to try again.`,
  };
}

/**
 * The restart policy for a server that ran and then went away: restart it up to
 * `maxRestarts` times within `windowMs`, then leave it stopped.
 */
export class RestartBudget {
  private restarts: number[] = [];

  constructor(
    readonly limit = 4,
    private readonly windowMs = 3 * 60 * 1000,
  ) {}

  /** True when one more restart is allowed at `now` (and records it). */
  allow(now: number): boolean {
    this.restarts = this.restarts.filter((at) => now - at < this.windowMs);
    if (this.restarts.length >= this.limit) return false;
    this.restarts.push(now);
    return true;
  }
}
