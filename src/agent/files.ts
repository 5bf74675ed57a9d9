/**
 * Files the agent keeps beside its configuration: the tags file (`-tags-file`) and the keyring
 * file (`-keyring-file`), in Go Serf 0.9.4's formats so both implementations can share them.
 */

import { open, readFile, stat } from 'node:fs/promises';
import { decodeStdBase64, Keyring } from '../security/keyring.js';
import { errorMessage, InvalidArgumentError } from '../util/errors.js';

/**
 * Serialises like Go's `json.MarshalIndent(v, "", "  ")`: two-space indent, no trailing newline,
 * and `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c` and so on, as Go's encoder does.
 * Object keys must already be in the wanted order.
 */
function goJsonIndent(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/[<>&\u2028\u2029]/g, (ch) => {
    return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/** Formats a Node.js file system error like Go's `*PathError` text (`open PATH: no such file or directory`). */
function describeFsError(op: string, path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `${op} ${path}: no such file or directory`;
  if (code === 'EACCES') return `${op} ${path}: permission denied`;
  if (code === 'EISDIR') return `read ${path}: is a directory`;
  return `${op} ${path}: ${errorMessage(err)}`;
}

/**
 * Writes `text` to `path` with mode 0600. An existing file is chmod'ed to 0600 before the new
 * content is written, so a key never sits in a file that group or others can read.
 */
async function writePrivateFile(path: string, text: string): Promise<void> {
  const handle = await open(path, 'w', 0o600);
  try {
    await handle.chmod(0o600);
    await handle.writeFile(text, 'utf8');
  } finally {
    await handle.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Tags file

/**
 * Reads a tags file: a JSON object of string values. Returns undefined when the file does not
 * exist. Errors read `Failed to read tags file: ...` or `Failed to decode tags file: ...`.
 */
export async function readTagsFile(path: string): Promise<Record<string, string> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InvalidArgumentError(`Failed to read tags file: ${describeFsError('open', path, err)}`, {
      cause: err,
    });
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`Failed to decode tags file: ${errorMessage(err)}`, { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError(
      `Failed to decode tags file: expected a JSON object of strings in ${path}`,
    );
  }
  const tags: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') {
      throw new InvalidArgumentError(
        `Failed to decode tags file: tag '${key}' in ${path} is ${JSON.stringify(value)}, expected a string`,
      );
    }
    tags[key] = value;
  }
  return tags;
}

/**
 * Writes tags as Go Serf does: JSON with keys sorted, two-space indent, no trailing newline. A new
 * file gets mode 0600; an existing file keeps its mode, as in Go Serf, because tags are not
 * secrets and operators may have opened the file to other tools on purpose.
 */
export async function writeTagsFile(path: string, tags: Record<string, string>): Promise<void> {
  const sorted: Record<string, string> = {};
  for (const key of Object.keys(tags).sort()) sorted[key] = tags[key] as string;
  const text = goJsonIndent(sorted);
  try {
    const handle = await open(path, 'w', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw new InvalidArgumentError(`Failed to write tags file: ${describeFsError('open', path, err)}`, {
      cause: err,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Keyring file

/**
 * Reads a keyring file: a JSON array of base64 keys, the primary first. Returns the decoded keys
 * in file order with duplicates removed. Errors carry Go Serf's texts: `stat PATH: no such file or
 * directory`, `Failed to decode keyring file: ...`, `Failed to decode key from keyring: ...`,
 * `Keyring file contains no keys`, `Failed to restore keyring: key size must be 16, 24 or 32 bytes`.
 * Key material never appears in them.
 */
export async function readKeyringFile(path: string): Promise<Uint8Array[]> {
  try {
    await stat(path);
  } catch (err) {
    throw new InvalidArgumentError(describeFsError('stat', path, err), { cause: err });
  }

  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`Failed to read keyring file: ${describeFsError('open', path, err)}`, {
      cause: err,
    });
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    // JSON.parse quotes the input in some messages, and the input is key material.
    const position = /position (\d+)/.exec(errorMessage(err))?.[1];
    const where = position === undefined ? '' : ` at offset ${position}`;
    throw new InvalidArgumentError(`Failed to decode keyring file: invalid JSON${where} in ${path}`);
  }
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) {
    throw new InvalidArgumentError(
      `Failed to decode keyring file: expected a JSON array of base64 strings in ${path}`,
    );
  }

  const keys: Uint8Array[] = [];
  for (const encoded of parsed as string[]) {
    try {
      keys.push(decodeStdBase64(encoded));
    } catch (err) {
      throw new InvalidArgumentError(`Failed to decode key from keyring: ${errorMessage(err)}`);
    }
  }
  if (keys.length === 0) {
    throw new InvalidArgumentError('Keyring file contains no keys');
  }
  try {
    return new Keyring(keys.slice(1), keys[0]).getKeys();
  } catch (err) {
    throw new InvalidArgumentError(`Failed to restore keyring: ${errorMessage(err)}`);
  }
}

/**
 * Writes base64 keys (primary first) as Go Serf does: a JSON array with two-space indent and no
 * trailing newline. Failures read `Failed to write keyring file: ...`.
 *
 * The file always ends up with mode 0600, also when it existed with a wider mode. Go Serf keeps
 * an existing file's mode, so a file an operator created with the default umask (0644) keeps the
 * gossip keys readable to every local user. Both implementations read a 0600 file.
 */
export async function writeKeyringFile(path: string, keys: string[]): Promise<void> {
  try {
    await writePrivateFile(path, goJsonIndent(keys));
  } catch (err) {
    throw new InvalidArgumentError(`Failed to write keyring file: ${describeFsError('open', path, err)}`, {
      cause: err,
    });
  }
}

/**
 * Returns a warning when a file holding keys (keyring file, `-encrypt-file`) can be read by group
 * or others, or undefined when it cannot or does not exist.
 */
export async function keyFilePermissionsWarning(path: string): Promise<string | undefined> {
  let mode: number;
  try {
    mode = (await stat(path)).mode & 0o777;
  } catch {
    return undefined;
  }
  return permissionsWarningForMode(path, mode);
}

/** Returns the warning of `keyFilePermissionsWarning` for a known permission mode. */
export function permissionsWarningForMode(path: string, mode: number): string | undefined {
  if ((mode & 0o044) === 0) return undefined;
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  return `Warning: '${path}' holds encryption keys and is readable by group or others (mode ${octal}); run 'chmod 600 ${path}'`;
}
