/** Messages on the two topics, and the EventPublisher port. */

export const TOPICS = { ingestRequests: 'ingest-requests', phaseCompletions: 'phase-completions' } as const;

/** `ingest-requests`: one document to run through the pipeline. */
export interface IngestRequest {
  readonly documentId: string;
  readonly action: 'process_document' | 'reprocess_document' | 'delete_document';
  readonly batchId?: string;
  /** The phase of the batch this run completes (default: the batch's first phase). */
  readonly phase?: string;
  readonly correlationId?: string;
  /** ISO 8601. */
  readonly requestedAt: string;
}

/** `phase-completions`: a unit of a batch finished a phase. */
export interface PhaseCompletionEvent {
  readonly eventId: string;
  readonly batchId: string;
  readonly phase: string;
  readonly unit: string;
  readonly status: 'succeeded' | 'failed';
  /** ISO 8601. */
  readonly occurredAt: string;
  readonly correlationId: string;
}

export interface PublishOptions {
  /** Carried as the `idempotencyKey` attribute; consumers drop a key they have already handled. */
  readonly idempotencyKey: string;
  readonly attributes?: Readonly<Record<string, string>>;
  /** Pub/Sub ordering key, when ordering matters. */
  readonly orderingKey?: string;
}

/** What an event function receives: the CloudEvent an Eventarc Pub/Sub trigger delivers. */
export interface PubSubCloudEvent {
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly specversion: string;
  /** ISO 8601. */
  readonly time?: string;
  readonly data?: {
    readonly message?: {
      /** base64 */
      readonly data?: string;
      readonly attributes?: Readonly<Record<string, string>>;
      readonly messageId?: string;
      readonly publishTime?: string;
    };
    readonly subscription?: string;
  };
}
