/**
 * A small Dockerfile reader for the image tests: instructions (with line
 * continuations joined and comments dropped) grouped by build stage, with
 * ARG defaults substituted in FROM lines.
 */
export interface Instruction {
  op: string;
  args: string;
  line: number;
}

export interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): Stage[] {
  const instructions: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) return;
    if (pending && line.startsWith('#')) return;
    if (!pending) startLine = i + 1;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      return;
    }
    const full = pending + line;
    pending = '';
    const m = /^(\S+)\s*(.*)$/.exec(full)!;
    instructions.push({ op: m[1].toUpperCase(), args: m[2].trim(), line: startLine });
  });

  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args)!;
      const from = m[1].replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string, b: string) => globalArgs.get(a ?? b) ?? '');
      stages.push({ from, name: m[2], instructions: [] });
    } else if (stages.length === 0 && ins.op === 'ARG') {
      const [k, v = ''] = ins.args.split('=', 2);
      globalArgs.set(k.trim(), v.trim());
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return stages;
}

/** `KEY=value KEY2="v 2"` pairs of an ENV instruction (the key=value form). */
export function envPairs(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of args.matchAll(/(\w+)=("([^"]*)"|\S+)/g)) out[m[1]] = m[3] ?? m[2];
  return out;
}

/** A JSON-array (exec form) argument list, or undefined for shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  return JSON.parse(args) as string[];
}

/** Sources and destination of a COPY (flags such as --from/--chown split out). */
export function copyParts(args: string): { from?: string; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  let from: string | undefined;
  const rest: string[] = [];
  for (const w of words) {
    if (w.startsWith('--from=')) from = w.slice('--from='.length);
    else if (!w.startsWith('--')) rest.push(w);
  }
  return { from, sources: rest.slice(0, -1), dest: rest[rest.length - 1] };
}

/**
 * Whether a top-level path goes into the build context, for an allow-list
 * .dockerignore (`*` then `!name` lines), the only shape this project uses.
 */
export function inContext(dockerignore: string, path: string): boolean {
  const rules = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  let included = true;
  const top = path.replace(/^\.\//, '').replace(/\/$/, '');
  for (const r of rules) {
    const negate = r.startsWith('!');
    const pattern = (negate ? r.slice(1) : r).replace(/\/$/, '');
    if (pattern === '*' || pattern === top) included = negate;
  }
  return included;
}
