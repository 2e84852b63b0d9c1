/**
 * JSON.parse with the checks a control plane needs (B13): duplicate object keys and excessive nesting
 * are rejected instead of silently taking the last value or exhausting the stack. A linear pre-scan
 * finds both before JSON.parse runs; JSON.parse then rejects syntax errors and trailing garbage.
 */
export class StrictJsonError extends Error {
  override readonly name = 'StrictJsonError';
}

export function parseStrictJson(text: string, maxDepth = 64): unknown {
  // Each open container: a Set of keys seen (object) or null (array).
  const stack: (Set<string> | null)[] = [];
  let afterKeyPosition = false; // true right after '{' or ',' inside an object
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
      const top = stack[stack.length - 1];
      if (top && afterKeyPosition) {
        let key: string;
        try {
          key = JSON.parse(text.slice(start, i + 1)) as string;
        } catch {
          throw new StrictJsonError(`invalid string at offset ${start}`);
        }
        if (top.has(key)) throw new StrictJsonError(`duplicate key "${truncate(key)}" in one object`);
        top.add(key);
      }
      afterKeyPosition = false;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      stack.push(c === 0x7b ? new Set() : null);
      if (stack.length > maxDepth) throw new StrictJsonError(`nesting deeper than ${maxDepth} levels`);
      afterKeyPosition = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      afterKeyPosition = false;
    } else if (c === 0x2c /* , */) {
      afterKeyPosition = stack[stack.length - 1] instanceof Set;
    } else if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
      afterKeyPosition = false;
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new StrictJsonError(withoutInput(err instanceof Error ? err.message : 'invalid JSON'));
  }
}

/**
 * V8 quotes a stretch of the input in some messages (`Unexpected token 'x', "…" is not valid
 * JSON`). A body may carry a secret, and error messages go back to clients: keep only a fixed text.
 */
function withoutInput(message: string): string {
  return /is not valid JSON$/.test(message) ? 'unexpected token' : message;
}

const truncate = (s: string): string => (s.length > 40 ? `${s.slice(0, 40)}…` : s);
