import type { FileKind } from '@sluice/contracts';
import type { KindDetector } from './detector';
import { topLevelKeys } from './json-keys.util';
import { looksJson } from './json-text.util';

/** JSON documents, recognised by their top-level keys (SPEC §4.2–4.4); text that only starts with a brace (`{user} logged in`) is no JSON. */
export const jsonDetector: KindDetector = {
  name: 'json',
  detect({ text, complete }) {
    const keys = topLevelKeys(text);
    if (keys === null || !looksJson(text, complete)) return null;
    let kind: FileKind | null = null;
    if (keys.includes('vehicle_status')) kind = 'vehicle_status';
    else if (keys.includes('objects_detection_events')) kind = 'detections';
    else if (keys.includes('time_stamp') && keys.includes('data')) kind = 'measurement';
    if (kind) return { kind };
    return {
      reject: {
        rule: 'unrecognized_format',
        message: keys.length
          ? `JSON with top-level keys ${keys.slice(0, 5).map((k) => `"${k}"`).join(', ')} is not a known kind; expected "vehicle_status", "objects_detection_events" or "time_stamp" + "data".`
          : 'The JSON object has no recognisable top-level keys.',
      },
    };
  },
};
