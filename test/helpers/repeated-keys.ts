/**
 * The keys a JSON object's text names more than once at its top level. JSON.parse keeps the last
 * of them silently, and log shippers differ on which they keep, so a log record must not have any.
 */
export function repeatedTopLevelKeys(json: string): string[] {
  const seen = new Set<string>();
  const repeated: string[] = [];
  let depth = 0;
  let i = 0;
  while (i < json.length) {
    const c = json[i]!;
    if (c === '"') {
      let end = i + 1;
      while (json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      // A string at depth 1 followed by a colon is a top-level key.
      if (depth === 1 && /^\s*:/.test(json.slice(end + 1, end + 8))) {
        const key = JSON.parse(json.slice(i, end + 1)) as string;
        if (seen.has(key)) repeated.push(key);
        seen.add(key);
      }
      i = end + 1;
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    i++;
  }
  return repeated;
}
