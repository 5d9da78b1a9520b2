/** Deterministic documents for the chaos runs: mostly small (one transaction), some large (staged batches). */
import { mulberry32 } from '../../support/fault-proxy';

export interface ChaosDocument {
  readonly id: string;
  readonly title: string;
  readonly text: string;
}

const WORDS = [
  'graph',
  'chunk',
  'lease',
  'ledger',
  'phase',
  'batch',
  'replay',
  'letter',
  'neo4j',
  'bolt',
  'commit',
  'naïve',
  'façade',
  'Ωmega',
  '日本語',
  'emoji🚀',
  'crème',
  'Zürich',
  'the',
  'of',
  'and',
  'a',
  'to',
  'in',
  'document',
  'offset',
  'surrogate',
  '𝔘nicode',
  'order',
  'twice',
  'fault',
  'proxy',
  'latency',
  'spike',
];

export function makeCorpus(prefix: string, count: number, seed: number): ChaosDocument[] {
  const random = mulberry32(seed);
  const pick = (): string => WORDS[Math.floor(random() * WORDS.length)] as string;
  const docs: ChaosDocument[] = [];
  for (let i = 0; i < count; i++) {
    // One in five is large: several UNWIND batches, written through the staged generation swap.
    const target = i % 5 === 0 ? 2500 + Math.floor(random() * 6000) : 40 + Math.floor(random() * 700);
    let text = `Document ${i} of ${prefix}.`;
    while (text.length < target) {
      const sentence = Array.from({ length: 4 + Math.floor(random() * 12) }, pick).join(' ');
      const r = random();
      text += r < 0.15 ? `\n\n${sentence}.` : r < 0.25 ? `\n${sentence}!` : ` ${sentence}.`;
    }
    docs.push({ id: `${prefix}/doc-${String(i).padStart(4, '0')}.md`, title: `Chaos document ${i}`, text });
  }
  return docs;
}
