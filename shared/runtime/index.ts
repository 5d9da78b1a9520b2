export { compose, type Composition, type CompositionOverrides } from './composition';
export type { Adapters } from './use-cases';
