/**
 * Pure helpers of the palette commands: the entries of the Select Model and Run Action…
 * QuickPicks from what the server answers (`chatls.listModels`, `chatls.listActions`: the
 * extension keeps no copy of the model list or the action table), the follow-up written in a
 * transcript, and the Show Usage text. Nothing here imports `vscode`.
 */

/** One entry of a QuickPick. */
export interface PickItem {
  label: string;
  description?: string;
  detail?: string;
  /** What the entry stands for: a model name or an action id. */
  value: string;
}

/** The current model and the models to pick from, as `chatls.listModels` answers. */
export function modelItems(answer: unknown): { current: string | undefined; items: PickItem[] } {
  const record = (answer ?? {}) as { current?: unknown; models?: unknown };
  const current = typeof record.current === 'string' ? record.current : undefined;
  const models = Array.isArray(record.models) ? record.models.filter((m): m is string => typeof m === 'string') : [];
  const items = models.map((model) => ({
    label: model,
    description: model === current ? '(current)' : undefined,
    value: model,
  }));
  // The current model first, so Enter keeps it.
  items.sort((a, b) => Number(b.value === current) - Number(a.value === current));
  return { current, items };
}

/** A row of the action table, as `chatls.listActions` answers it. */
export interface ActionRowInfo {
  id: string;
  title: string;
  kind: string;
  model?: string;
}

/** The rows of `chatls.listActions`, malformed entries left out. */
export function actionRows(answer: unknown): ActionRowInfo[] {
  const rows = (answer as { actions?: unknown } | undefined)?.actions;
  if (!Array.isArray(rows)) return [];
  return rows.flatMap((row: unknown): ActionRowInfo[] => {
    const entry = row as Record<string, unknown>;
    if (typeof entry?.id !== 'string' || typeof entry.title !== 'string' || typeof entry.kind !== 'string') return [];
    return [{ id: entry.id, title: entry.title, kind: entry.kind, model: typeof entry.model === 'string' ? entry.model : undefined }];
  });
}

export function actionItems(rows: readonly ActionRowInfo[]): PickItem[] {
  return rows.map((row) => ({
    label: row.title,
    description:
      row.kind === 'edit'
        ? 'replaces the selection'
        : row.kind === 'workspace'
          ? 'changes files, reviewed first'
          : 'answers in the transcript',
    detail: row.model === undefined ? row.id : `${row.id} · ${row.model}`,
    value: row.id,
  }));
}

/** The text under the last `## You` heading of a transcript, trimmed; undefined when empty. */
export function pendingFollowUp(text: string): string | undefined {
  const lines = text.split(/\r?\n/);
  let last = -1;
  lines.forEach((line, index) => {
    if (line.trimEnd() === '## You') last = index;
  });
  if (last < 0) return undefined;
  const pending = lines.slice(last + 1).join('\n').trim();
  return pending === '' ? undefined : pending;
}

interface Totals {
  requests?: number;
  promptTokens?: number;
  cachedTokens?: number;
  completionTokens?: number;
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function totalsText(totals: Totals | undefined): string {
  const requests = count(totals?.requests);
  const cached = count(totals?.cachedTokens);
  const cachedText = cached > 0 ? ` (${cached.toLocaleString('en-US')} cached)` : '';
  return `${requests.toLocaleString('en-US')} request${requests === 1 ? '' : 's'}, ${count(totals?.promptTokens).toLocaleString('en-US')} prompt${cachedText} + ${count(totals?.completionTokens).toLocaleString('en-US')} completion tokens`;
}

/** `chatls.usage`'s answer in words: the session's total, then each model by kind. */
export function describeUsage(report: unknown): string {
  const record = (report ?? {}) as { total?: Totals; byModel?: Record<string, Record<string, Totals>> };
  const parts = [`chatls usage this session: ${totalsText(record.total)}`];
  for (const [model, kinds] of Object.entries(record.byModel ?? {})) {
    const used = Object.entries(kinds ?? {})
      .filter(([kind, totals]) => kind !== 'total' && count(totals?.requests) > 0)
      .map(([kind, totals]) => `${kind} ${totalsText(totals)}`);
    if (used.length > 0) parts.push(`${model}: ${used.join('; ')}`);
  }
  return parts.join(' — ');
}
