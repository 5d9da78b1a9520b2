/**
 * A deterministic, seeded generator of realistic text: prose (some of it hard-wrapped like e-texts and RFCs),
 * markdown (headings, lists, code blocks, quotes, tables) and source code (TypeScript and Python). No
 * network, no files: the same seed gives the same bytes on every machine, so every figure of a benchmark run
 * comes from the same input.
 *
 * "Realistic" here means what a splitter cares about: varied sentence lengths (3 to 45 words), paragraphs of
 * 1 to 9 sentences, abbreviations and decimal numbers that look like sentence ends, closing quotes and
 * brackets after a terminal, list items without a full stop, lines of code without any terminal, and some
 * non-ASCII punctuation.
 */

export type DocKind = 'prose' | 'markdown' | 'code';
export const DOC_KINDS: readonly DocKind[] = ['prose', 'markdown', 'code'];

export interface CorpusDocument {
  readonly id: string;
  readonly kind: DocKind;
  readonly text: string;
}

/** A small seeded PRNG (mulberry32): fast, 32-bit state, identical results on every platform. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** Skewed towards the start of the list (Zipf-like word frequencies). */
  pickSkewed<T>(items: readonly T[]): T;
}

export function makeRng(seed: number): Rng {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rng: Rng = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
    pickSkewed: <T>(items: readonly T[]): T => {
      // Half uniform, half squared: frequent words are frequent without one word dominating.
      const u = next();
      return items[Math.floor((next() < 0.5 ? u : u * u) * items.length)] as T;
    },
  };
  return rng;
}

// ---------------------------------------------------------------------------------------------------------
// Vocabulary

const words = (s: string): readonly string[] => s.trim().split(/\s+/);

const NOUNS = words(`
  system data model graph document report team process result method value user service question time
  year people way day world life hand part child eye place week case point number group problem fact
  study book company network research record history market policy decision theory evidence structure
  approach analysis function language river village harbour letter window garden engine signal pattern
  table index query node relationship transaction batch request response server client cluster region
  memory storage pipeline schedule budget contract agreement council committee witness journey voyage
  season winter summer morning evening mountain valley forest island coast bridge road station factory
  library archive manuscript chapter section paragraph sentence author editor reader teacher student
  doctor patient officer captain sailor farmer merchant engineer scientist chemist lawyer judge parliament
  experiment sample measurement error estimate variance distribution boundary threshold limit capacity
  latency throughput failure outage incident deployment release version feature interface module library
`);

const VERBS = words(`
  describe show explain change follow provide include consider develop create build measure reduce increase
  support require allow produce report suggest indicate remain become carry hold bring return accept
  reject compare observe record replace improve examine publish review deliver maintain protect reach
  cross enter leave open close write read send receive store load split merge join walk travel discover
  notice argue claim believe expect assume confirm deny prefer avoid handle process transform index
  retrieve rank cache retry fail recover restart schedule deploy migrate validate encode decode
`);

const PAST = words(`
  described showed explained changed followed provided included considered developed created built measured
  reduced increased supported required allowed produced reported suggested indicated remained became carried
  held brought returned accepted rejected compared observed recorded replaced improved examined published
  reviewed delivered maintained protected reached crossed entered left opened closed wrote read sent received
  stored loaded noticed argued claimed believed expected assumed confirmed denied preferred avoided
`);

const ADJECTIVES = words(`
  new good first last long great little own other old right big high different small large next early
  young important few public bad same able local certain free full special clear recent late hard major
  strong possible whole simple quiet narrow wide distant ancient modern careful curious sudden gradual
  reliable fragile robust efficient expensive cheap accurate noisy stable consistent partial final
  northern southern western eastern central remote nearby bright dark heavy light cold warm
`);

const ADVERBS = words(`
  also often however still then never always already perhaps quickly slowly finally usually rarely
  clearly simply nearly roughly largely mostly directly carefully suddenly gradually eventually
`);

const PREPOSITIONS = words(
  `of in to for with on at from by about into over after under between through during without against among`,
);

const DETERMINERS = words(
  `the the the the a a an this that each every some many most several no its their our`,
);

const NAMES = words(`
  Alice Bruno Chen Dmitri Elena Farah Gustav Hana Ibrahim Jonas Keiko Lucia Mateo Nadia Olav Priya Quentin
  Rosa Samir Tomas Ulrike Viktor Wen Yusuf Zoe
`);

const PLACES = words(`
  Lisbon Oslo Kyoto Nairobi Quito Dublin Krakow Hobart Tromso Valparaiso Marseille Tallinn Halifax Porto
`);

const CONNECTIVES = [
  ', and ',
  ', but ',
  '; ',
  ', which ',
  ' because ',
  ' while ',
  ', so ',
  ' although ',
  ' and ',
];

const ABBREVIATIONS = ['e.g.', 'i.e.', 'etc.', 'approx.', 'vs.', 'cf.'];

const TITLES = ['Dr.', 'Mr.', 'Ms.', 'Prof.'];

const LANGS = ['typescript', 'python', 'bash', 'json', 'sql', 'yaml'];

// ---------------------------------------------------------------------------------------------------------
// Prose

function capitalize(s: string): string {
  return s.length === 0 ? s : s.charAt(0).toUpperCase() + s.slice(1);
}

function plural(noun: string): string {
  if (noun === 'data' || noun === 'evidence' || noun === 'research' || noun === 'people') return noun;
  if (noun === 'child') return 'children';
  if (/(s|x|ch|sh)$/.test(noun)) return `${noun}es`;
  if (/[^aeiou]y$/.test(noun)) return `${noun.slice(0, -1)}ies`;
  return `${noun}s`;
}

function nounPhrase(r: Rng): string {
  const roll = r.next();
  if (roll < 0.02) return `${r.pick(TITLES)} ${r.pick(NAMES)}`;
  if (roll < 0.07) return r.pick(NAMES);
  if (roll < 0.1) return r.pick(PLACES);
  if (roll < 0.13) return `${r.int(2, 990)} ${plural(r.pickSkewed(NOUNS))}`;
  const det = r.pickSkewed(DETERMINERS);
  const adj = r.chance(0.4) ? `${r.pickSkewed(ADJECTIVES)} ` : '';
  const noun = r.pickSkewed(NOUNS);
  const article = det === 'a' || det === 'an' ? (/^[aeiou]/.test(adj || noun) ? 'an' : 'a') : det;
  return `${article} ${adj}${noun}`;
}

function extra(r: Rng): string {
  const roll = r.next();
  if (roll < 0.45) return ` ${r.pick(PREPOSITIONS)} ${nounPhrase(r)}`;
  if (roll < 0.55) return ` ${r.pick(ADVERBS)}`;
  if (roll < 0.58) return ` (${r.pick(ABBREVIATIONS)} ${nounPhrase(r)})`;
  if (roll < 0.68) return ` by ${r.int(1, 99)}.${r.int(0, 9)} percent`;
  if (roll < 0.72) return ` in ${r.int(1850, 2024)}`;
  if (roll < 0.76) return ` — ${nounPhrase(r)} — ${r.pick(ADVERBS)}`;
  if (roll < 0.8) return ` at ${r.int(1, 12)}.${r.int(10, 59)} in the ${r.pick(['morning', 'evening'])}`;
  return ` ${r.pick(PREPOSITIONS)} ${nounPhrase(r)}`;
}

function clause(r: Rng): string {
  const subject = nounPhrase(r);
  const verb = r.chance(0.6)
    ? r.pickSkewed(PAST)
    : `${r.pick(['will', 'may', 'must', 'could', 'did not'])} ${r.pickSkewed(VERBS)}`;
  let s = `${subject} ${verb} ${nounPhrase(r)}`;
  const extras = r.int(0, 2);
  for (let i = 0; i < extras; i++) s += extra(r);
  return s;
}

/** One sentence of 3 to ~45 words, ending with a terminal and sometimes a closing quote or bracket. */
export function sentence(r: Rng): string {
  const size = r.next();
  let s: string;
  if (size < 0.08) {
    s = `${r.pickSkewed(DETERMINERS)} ${r.pickSkewed(NOUNS)} ${r.pickSkewed(PAST)}`; // a very short one
  } else {
    // Short, medium and long sentences, roughly as in edited prose.
    const clauses = size < 0.2 ? 1 : size < 0.8 ? r.int(1, 2) : r.int(3, 4);
    s = clause(r);
    for (let i = 1; i < clauses; i++) s += r.pick(CONNECTIVES) + clause(r);
  }
  s = capitalize(s);
  const end = r.next();
  if (end < 0.84) s += '.';
  else if (end < 0.9) s += '?';
  else if (end < 0.93) s += '!';
  else if (end < 0.95) s += '…';
  else if (end < 0.98) return `“${s}.”`;
  else return `(${s}.)`;
  return s;
}

function paragraph(r: Rng): string {
  const n = r.chance(0.15) ? 1 : r.int(2, 9);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(sentence(r));
  return parts.join(' ');
}

/** Wraps a paragraph at `width` columns, as in plain-text e-books and RFCs. */
function wrap(text: string, width: number): string {
  const out: string[] = [];
  let line = '';
  for (const w of text.split(' ')) {
    if (line.length > 0 && line.length + 1 + w.length > width) {
      out.push(line);
      line = w;
    } else {
      line = line.length > 0 ? `${line} ${w}` : w;
    }
  }
  if (line.length > 0) out.push(line);
  return out.join('\n');
}

function proseDocument(r: Rng, target: number): string {
  const width = r.chance(0.3) ? r.int(66, 78) : 0;
  const parts: string[] = [];
  let length = 0;
  if (r.chance(0.5)) {
    parts.push(
      capitalize(
        `${r.pickSkewed(ADJECTIVES)} ${plural(r.pickSkewed(NOUNS))} of ${r.pick(PLACES)}`,
      ).toUpperCase(),
    );
  }
  let chapter = 1;
  while (length < target) {
    let block: string;
    if (r.chance(0.03)) block = `CHAPTER ${chapter++}`;
    else if (r.chance(0.02)) block = '* * *';
    else {
      const p = paragraph(r);
      block = width > 0 ? wrap(p, width) : p;
    }
    parts.push(block);
    length += block.length + 2;
  }
  return parts.join(width > 0 || r.chance(0.8) ? '\n\n' : '\n\n\n');
}

// ---------------------------------------------------------------------------------------------------------
// Markdown

function inlineMarkdown(r: Rng, s: string): string {
  const roll = r.next();
  if (roll < 0.1) return s.replace(/ (\w{4,}) /, ' `$1()` ');
  if (roll < 0.16) return s.replace(/ (\w{4,}) /, ' **$1** ');
  if (roll < 0.22) return s.replace(/ (\w{4,}) (\w{3,}) /, ' [$1 $2](https://example.org/docs/$1) ');
  return s;
}

function listItem(r: Rng): string {
  if (r.chance(0.5)) return inlineMarkdown(r, sentence(r));
  // A fragment without a full stop, as most list items are.
  return `${capitalize(r.pickSkewed(VERBS))} ${nounPhrase(r)}${r.chance(0.5) ? extra(r) : ''}`;
}

function codeBlock(r: Rng): string {
  const lang = r.pick(LANGS);
  const lines = r.int(3, 24);
  const body: string[] = [];
  if (lang === 'typescript' || lang === 'python') {
    body.push(codeLines(r, lang === 'python' ? 'python' : 'ts', lines).join('\n'));
  } else if (lang === 'bash') {
    for (let i = 0; i < lines; i++) {
      body.push(
        `${r.pick(['graphmill', 'npm run', 'gcloud', 'curl -sS', 'export'])} ${identifier(r)} --${r.pickSkewed(NOUNS)}=${r.int(1, 500)}`,
      );
    }
  } else if (lang === 'json') {
    body.push('{');
    for (let i = 0; i < lines; i++)
      body.push(
        `  "${identifier(r)}": ${r.chance(0.5) ? r.int(0, 9999) : `"${r.pickSkewed(NOUNS)}"`}${i < lines - 1 ? ',' : ''}`,
      );
    body.push('}');
  } else if (lang === 'sql') {
    body.push(
      `SELECT ${identifier(r)}, ${identifier(r)}, count(*) AS n`,
      `FROM ${plural(r.pickSkewed(NOUNS))}`,
    );
    body.push(`WHERE ${identifier(r)} > ${r.int(1, 100)}`, `GROUP BY 1, 2`, `ORDER BY n DESC;`);
  } else {
    for (let i = 0; i < lines; i++)
      body.push(`${'  '.repeat(r.int(0, 2))}${identifier(r)}: ${r.pickSkewed(NOUNS)}`);
  }
  return `\`\`\`${lang}\n${body.join('\n')}\n\`\`\``;
}

function table(r: Rng): string {
  const cols = r.int(2, 5);
  const header = Array.from({ length: cols }, () => r.pickSkewed(NOUNS));
  const rows = [`| ${header.join(' | ')} |`, `|${' --- |'.repeat(cols)}`];
  for (let i = r.int(2, 8); i > 0; i--) {
    rows.push(
      `| ${Array.from({ length: cols }, () => (r.chance(0.5) ? String(r.int(0, 9999)) : r.pickSkewed(ADJECTIVES))).join(' | ')} |`,
    );
  }
  return rows.join('\n');
}

function markdownDocument(r: Rng, target: number): string {
  const parts: string[] = [
    `# ${capitalize(r.pickSkewed(ADJECTIVES))} ${r.pickSkewed(NOUNS)} ${r.pick(PREPOSITIONS)} ${plural(r.pickSkewed(NOUNS))}`,
  ];
  let length = parts[0]!.length;
  let section = 0;
  while (length < target) {
    const roll = r.next();
    let block: string;
    if (roll < 0.08) block = `## ${++section}. ${capitalize(r.pickSkewed(VERBS))} the ${r.pickSkewed(NOUNS)}`;
    else if (roll < 0.13)
      block = `### ${capitalize(r.pickSkewed(ADJECTIVES))} ${plural(r.pickSkewed(NOUNS))}`;
    else if (roll < 0.58) block = inlineMarkdown(r, paragraph(r));
    else if (roll < 0.7) {
      const nested = r.chance(0.3);
      const items = Array.from({ length: r.int(2, 8) }, (_, i) =>
        nested && i % 3 === 2 ? `  - ${listItem(r)}` : `${r.chance(0.9) ? '-' : '*'} ${listItem(r)}`,
      );
      block = items.join('\n');
    } else if (roll < 0.77) {
      block = Array.from({ length: r.int(2, 7) }, (_, i) => `${i + 1}. ${listItem(r)}`).join('\n');
    } else if (roll < 0.9) block = codeBlock(r);
    else if (roll < 0.95) block = wrap(paragraph(r), 70).replace(/^/gm, '> ');
    else block = table(r);
    parts.push(block);
    length += block.length + 2;
  }
  return parts.join('\n\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------------
// Code

function identifier(r: Rng): string {
  const a = r.pickSkewed(VERBS);
  return r.chance(0.6) ? `${a}${capitalize(r.pickSkewed(NOUNS))}` : r.pickSkewed(NOUNS);
}

function comment(r: Rng, prefix: string): string {
  return wrap(sentence(r), 90)
    .split('\n')
    .map((l) => `${prefix}${l}`)
    .join('\n');
}

function codeLines(r: Rng, lang: 'ts' | 'python', n: number, indent = 1): string[] {
  const pad = lang === 'ts' ? '  '.repeat(indent) : '    '.repeat(indent);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const roll = r.next();
    const a = identifier(r);
    const b = identifier(r);
    if (lang === 'ts') {
      if (roll < 0.35) out.push(`${pad}const ${a} = ${b}(${identifier(r)}, ${r.int(0, 100)});`);
      else if (roll < 0.5)
        out.push(`${pad}if (${a}.length > ${r.int(1, 64)}) {`, `${pad}  return ${b}(${a});`, `${pad}}`);
      else if (roll < 0.6)
        out.push(`${pad}for (const ${r.pickSkewed(NOUNS)} of ${a}) ${b}.push(${r.pickSkewed(NOUNS)});`);
      else if (roll < 0.7) out.push(`${pad}// ${sentence(r)}`);
      else if (roll < 0.8)
        out.push(
          `${pad}await ${a}.${b}({ ${r.pickSkewed(NOUNS)}: ${r.int(0, 9)}, ${r.pickSkewed(NOUNS)}: '${r.pickSkewed(ADJECTIVES)}' });`,
        );
      else if (roll < 0.9) out.push(`${pad}${a} += ${b}.${identifier(r)} * ${r.int(2, 9)}.${r.int(0, 9)};`);
      else
        out.push(
          `${pad}throw new Error(\`${capitalize(r.pickSkewed(NOUNS))} \${${a}} is ${r.pickSkewed(ADJECTIVES)}\`);`,
        );
    } else {
      if (roll < 0.35) out.push(`${pad}${a} = ${b}(${identifier(r)}, ${r.int(0, 100)})`);
      else if (roll < 0.5) out.push(`${pad}if len(${a}) > ${r.int(1, 64)}:`, `${pad}    return ${b}(${a})`);
      else if (roll < 0.6)
        out.push(
          `${pad}for ${r.pickSkewed(NOUNS)} in ${a}:`,
          `${pad}    ${b}.append(${r.pickSkewed(NOUNS)})`,
        );
      else if (roll < 0.7) out.push(`${pad}# ${sentence(r)}`);
      else if (roll < 0.8)
        out.push(
          `${pad}${a}.${b}(${r.pickSkewed(NOUNS)}=${r.int(0, 9)}, mode="${r.pickSkewed(ADJECTIVES)}")`,
        );
      else if (roll < 0.9) out.push(`${pad}${a} += ${b}.${identifier(r)} * ${r.int(2, 9)}.${r.int(0, 9)}`);
      else
        out.push(
          `${pad}raise ValueError(f"${capitalize(r.pickSkewed(NOUNS))} {${a}} is ${r.pickSkewed(ADJECTIVES)}")`,
        );
    }
  }
  return out;
}

function codeDocument(r: Rng, target: number): string {
  const lang = r.chance(0.6) ? 'ts' : 'python';
  const parts: string[] = [];
  if (lang === 'ts') {
    parts.push(`/**\n${comment(r, ' * ')}\n */`);
    parts.push(
      Array.from(
        { length: r.int(1, 6) },
        () => `import { ${identifier(r)} } from './${r.pickSkewed(NOUNS)}';`,
      ).join('\n'),
    );
  } else {
    parts.push(`"""${sentence(r)}\n\n${wrap(paragraph(r), 88)}\n"""`);
    parts.push(
      Array.from({ length: r.int(1, 6) }, () => `from ${r.pickSkewed(NOUNS)} import ${identifier(r)}`).join(
        '\n',
      ),
    );
  }
  let length = parts.reduce((n, p) => n + p.length + 2, 0);
  while (length < target) {
    const name = identifier(r);
    const args = Array.from({ length: r.int(0, 3) }, () => r.pickSkewed(NOUNS));
    const body = codeLines(r, lang, r.int(2, 14));
    let block: string;
    if (lang === 'ts') {
      const doc = r.chance(0.6) ? `/** ${sentence(r)} */\n` : '';
      const sig = `export ${r.chance(0.3) ? 'async ' : ''}function ${name}(${args.map((a) => `${a}: ${capitalize(r.pickSkewed(NOUNS))}`).join(', ')}): void {`;
      block = `${doc}${sig}\n${body.join('\n')}\n}`;
    } else {
      const doc = r.chance(0.6) ? `    """${sentence(r)}"""\n` : '';
      block = `def ${name}(${args.join(', ')}):\n${doc}${body.join('\n')}`;
    }
    parts.push(block);
    length += block.length + 2;
  }
  return parts.join(lang === 'python' ? '\n\n\n' : '\n\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------------
// Public API

/** One document of the given kind, about `targetChars` long (it stops after the block that reaches it). */
export function generateDocument(seed: number, kind: DocKind, targetChars: number): string {
  const r = makeRng(seed);
  switch (kind) {
    case 'prose':
      return proseDocument(r, targetChars);
    case 'markdown':
      return markdownDocument(r, targetChars);
    case 'code':
      return codeDocument(r, targetChars);
  }
}

export interface CorpusOptions {
  readonly seed: number;
  /** Total size in characters (the corpus is mostly ASCII, so about as many bytes). */
  readonly totalChars: number;
  /** Document sizes are log-uniform in [minDocChars, maxDocChars]. */
  readonly minDocChars?: number;
  readonly maxDocChars?: number;
  /** Share of each kind, by document count. Default: 40% prose, 40% markdown, 20% code. */
  readonly mix?: Readonly<Record<DocKind, number>>;
  /** Prefix of the document ids (default `doc-`). */
  readonly idPrefix?: string;
}

export const DEFAULT_MIX: Readonly<Record<DocKind, number>> = { prose: 0.4, markdown: 0.4, code: 0.2 };

/** Documents until `totalChars` is reached; each has its own seed derived from `seed` and its position. */
export function generateCorpus(options: CorpusOptions): CorpusDocument[] {
  const r = makeRng(options.seed);
  const min = options.minDocChars ?? 2_000;
  const max = options.maxDocChars ?? 400_000;
  const mix = options.mix ?? DEFAULT_MIX;
  const prefix = options.idPrefix ?? 'doc-';
  const weights = DOC_KINDS.map((k) => mix[k]);
  const sum = weights.reduce((a, b) => a + b, 0);
  const docs: CorpusDocument[] = [];
  let total = 0;
  while (total < options.totalChars) {
    let roll = r.next() * sum;
    let kind: DocKind = 'prose';
    for (let i = 0; i < DOC_KINDS.length; i++) {
      roll -= weights[i] ?? 0;
      if (roll < 0) {
        kind = DOC_KINDS[i] ?? 'prose';
        break;
      }
    }
    const size = Math.round(min * Math.pow(max / min, r.next()));
    const target = Math.min(size, Math.max(1, options.totalChars - total));
    const text = generateDocument(r.int(0, 0xffffffff), kind, target);
    docs.push({ id: `${prefix}${String(docs.length).padStart(5, '0')}`, kind, text });
    total += text.length;
  }
  return docs;
}
