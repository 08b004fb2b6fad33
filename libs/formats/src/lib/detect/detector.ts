import type { FileKind, RejectReason } from '@sluice/contracts';

/** What a detector sees: the head of the file as text (BOM stripped) and the file name as a hint. */
export interface DetectInput {
  text: string;
  fileName: string;
  /** True when `text` is the whole file (the head was not cut). */
  complete: boolean;
}

export type Detection = { kind: FileKind } | { reject: RejectReason };

/** One kind (or family of kinds) recognised from content. Returns null when the content is not its kind. */
export interface KindDetector {
  readonly name: string;
  detect(input: DetectInput): Detection | null;
}
