/** The listener handover moved to `../service/handover.ts` (it serves exporters too); receivers keep importing it from here. */
export * from '../service/handover.ts';
