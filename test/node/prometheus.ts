/**
 * A strict reader of the Prometheus text format 0.0.4 for tests: it throws on anything a scraper
 * would reject or that the format's rules forbid (a sample before its family's TYPE, a family
 * declared twice, a counter not ending in _total, a bad label escape, a duplicate series, no
 * final line feed), and returns the samples by series key.
 */

export interface Family {
  readonly name: string;
  readonly type: string;
  readonly help: string;
}

export interface Exposition {
  readonly families: Map<string, Family>;
  /** `name{a="x",b="y"}` (labels sorted) -> value. */
  readonly samples: Map<string, number>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function seriesKey(name: string, labels: Record<string, string> = {}): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return name;
  return `${name}{${keys.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
}

function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`label without value in {${text}}`);
    const key = text.slice(i, eq);
    if (!LABEL.test(key)) throw new Error(`bad label name ${JSON.stringify(key)}`);
    if (text[eq + 1] !== '"') throw new Error(`label value not quoted in {${text}}`);
    let j = eq + 2;
    let value = '';
    for (;;) {
      const c = text[j];
      if (c === undefined) throw new Error(`unterminated label value in {${text}}`);
      if (c === '"') break;
      if (c === '\n') throw new Error('raw line feed in a label value');
      if (c === '\\') {
        const n = text[j + 1];
        if (n === '\\') value += '\\';
        else if (n === '"') value += '"';
        else if (n === 'n') value += '\n';
        else throw new Error(`bad escape \\${n} in a label value`);
        j += 2;
        continue;
      }
      value += c;
      j++;
    }
    if (key in out) throw new Error(`label ${key} twice`);
    out[key] = value;
    i = j + 1;
    if (i < text.length) {
      if (text[i] !== ',') throw new Error(`expected , in {${text}}`);
      i++;
    }
  }
  return out;
}

function parseValue(text: string): number {
  if (text === 'NaN') return NaN;
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (!/^-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?$/.test(text)) throw new Error(`bad value ${JSON.stringify(text)}`);
  return Number(text);
}

export function parseExposition(text: string): Exposition {
  if (!text.endsWith('\n')) throw new Error('exposition does not end with a line feed');
  const families = new Map<string, Family>();
  const samples = new Map<string, number>();
  const helps = new Map<string, string>();
  let current: Family | null = null;
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP ')) {
      const rest = line.slice(7);
      const sp = rest.indexOf(' ');
      const name = rest.slice(0, sp);
      if (!NAME.test(name)) throw new Error(`bad family name ${name}`);
      if (helps.has(name) || families.has(name)) throw new Error(`family ${name} declared twice`);
      if (/\\[^\\n]/.test(rest.slice(sp + 1).replace(/\\\\/g, ''))) throw new Error(`bad escape in HELP of ${name}`);
      helps.set(name, rest.slice(sp + 1));
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      if (!name || !type || !['counter', 'gauge', 'summary', 'histogram', 'untyped'].includes(type)) throw new Error(`bad TYPE line ${line}`);
      if (families.has(name)) throw new Error(`family ${name} typed twice`);
      if (!helps.has(name)) throw new Error(`family ${name}: TYPE without HELP before it`);
      if (type === 'counter' && !name.endsWith('_total')) throw new Error(`counter ${name} does not end in _total`);
      current = { name, type, help: helps.get(name)! };
      families.set(name, current);
      continue;
    }
    if (line.startsWith('#') || line === '') throw new Error(`unexpected line ${JSON.stringify(line)}`);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`bad sample line ${JSON.stringify(line)}`);
    const name = m[1]!;
    if (!current) throw new Error(`sample ${name} before any TYPE`);
    const allowed = current.type === 'summary' ? [current.name, `${current.name}_sum`, `${current.name}_count`] : [current.name];
    if (!allowed.includes(name)) throw new Error(`sample ${name} outside its family (current: ${current.name})`);
    const labels = parseLabels(m[2] ?? '');
    const key = seriesKey(name, labels);
    if (samples.has(key)) throw new Error(`series ${key} twice`);
    samples.set(key, parseValue(m[3]!));
  }
  return { families, samples };
}
