/**
 * Text building blocks that reproduce what the reference Go CLI prints: column alignment (the
 * `columnize` package with its defaults) and `encoding/json` indented output.
 */

/**
 * Aligns `|`-separated rows into columns, like Go's columnize.SimpleFormat. Cells are trimmed.
 * Every cell but a row's last is padded to its column's widest cell (counted in code points) and
 * followed by two spaces. Rows are joined with `\n`, without a final newline.
 */
export function columnize(rows: readonly string[]): string {
  const table = rows.map((row) => row.split('|').map((cell) => cell.trim()));
  const widths: number[] = [];
  for (const cells of table) {
    cells.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, codePointLength(cell));
    });
  }

  return table
    .map((cells) =>
      cells
        .map((cell, i) => {
          if (i === cells.length - 1) {
            return cell;
          }
          const padding = ' '.repeat((widths[i] ?? 0) - codePointLength(cell));
          return `${cell}${padding}  `;
        })
        .join(''),
    )
    .join('\n');
}

function codePointLength(text: string): number {
  let count = 0;
  for (const _ of text) {
    count++;
  }
  return count;
}

/** A JSON object whose keys are written in the order given (a Go struct, or a map after sorting). */
export class JsonObject {
  constructor(readonly entries: ReadonlyArray<readonly [string, JsonValue]>) {}

  /** Builds the object Go writes for a `map[string]T`: keys sorted by their UTF-8 bytes. */
  static sortedMap(record: Readonly<Record<string, JsonValue>> | ReadonlyMap<string, JsonValue>): JsonObject {
    const entries = record instanceof Map ? [...record.entries()] : Object.entries(record);
    entries.sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    return new JsonObject(entries);
  }
}

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | JsonObject;

/**
 * Encodes `value` like Go's `json.MarshalIndent(value, "", "  ")`, including Go's escaping of
 * `<`, `>`, `&`, U+2028 and U+2029.
 */
export function goJsonIndent(value: JsonValue, indent = ''): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  if (typeof value === 'string') return goJsonString(value);

  const inner = `${indent}  `;
  if (value instanceof JsonObject) {
    if (value.entries.length === 0) return '{}';
    const items = value.entries.map(
      ([key, item]) => `${inner}${goJsonString(key)}: ${goJsonIndent(item, inner)}`,
    );
    return `{\n${items.join(',\n')}\n${indent}}`;
  }
  if (value.length === 0) return '[]';
  const items = value.map((item) => `${inner}${goJsonIndent(item, inner)}`);
  return `[\n${items.join(',\n')}\n${indent}]`;
}

/** Encodes a string as Go's encoding/json does with its default HTML escaping. */
export function goJsonString(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0) as number;
    switch (ch) {
      case '"':
        out += '\\"';
        break;
      case '\\':
        out += '\\\\';
        break;
      case '\n':
        out += '\\n';
        break;
      case '\r':
        out += '\\r';
        break;
      case '\t':
        out += '\\t';
        break;
      default:
        if (code < 0x20 || ch === '<' || ch === '>' || ch === '&' || code === 0x2028 || code === 0x2029) {
          out += `\\u${code.toString(16).padStart(4, '0')}`;
        } else {
          out += ch;
        }
    }
  }
  return `${out}"`;
}

/** Go `%q` for a string: double-quoted with Go escapes (flag error messages, `%#v` of strings). */
export function goQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0) as number;
    if (ch === '"' || ch === '\\') {
      out += `\\${ch}`;
    } else if (ch === '\n') {
      out += '\\n';
    } else if (ch === '\t') {
      out += '\\t';
    } else if (ch === '\r') {
      out += '\\r';
    } else if (ch === '\x07') {
      out += '\\a';
    } else if (ch === '\b') {
      out += '\\b';
    } else if (ch === '\f') {
      out += '\\f';
    } else if (ch === '\v') {
      out += '\\v';
    } else if (code < 0x20 || code === 0x7f) {
      out += `\\x${code.toString(16).padStart(2, '0')}`;
    } else if (ch !== ' ' && /\p{C}|\p{Z}/u.test(ch)) {
      // Go's strconv.IsPrint rejects control, format and unassigned runes and every space but U+0020.
      out +=
        code > 0xffff
          ? `\\U${code.toString(16).padStart(8, '0')}`
          : `\\u${code.toString(16).padStart(4, '0')}`;
    } else {
      out += ch;
    }
  }
  return `${out}"`;
}
