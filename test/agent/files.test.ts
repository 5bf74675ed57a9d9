import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  keyFilePermissionsWarning,
  readKeyringFile,
  readTagsFile,
  writeKeyringFile,
  writeTagsFile,
} from '../../src/agent/files.js';
import { encodeKey } from '../../src/security/index.js';
import { ErrorCode, InvalidArgumentError } from '../../src/util/errors.js';
import { loadVectors } from '../helpers/vectors.js';

let dir: string;
let counter = 0;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'serf-agent-files-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function tempPath(name: string): string {
  counter++;
  return join(dir, `${counter}-${name}`);
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

async function assertRejects(promise: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(err)}`);
    assert.equal(err.code, ErrorCode.invalidArgument);
    assert.equal(err.message, message);
    return true;
  });
}

interface KeyringVector {
  id: string;
  kind: string;
  text: string;
}

const keyringVectors = (loadVectors('files').entries as KeyringVector[]).filter(
  (e) => e.kind === 'keyring-file',
);

describe('keyring file', () => {
  it('has captures to compare with', () => {
    assert.equal(keyringVectors.length, 7);
  });

  for (const vector of keyringVectors) {
    it(`round-trips ${vector.id} byte for byte`, async () => {
      const source = tempPath('source.json');
      writeFileSync(source, vector.text);
      const keys = await readKeyringFile(source);
      const encoded = keys.map(encodeKey);
      assert.deepEqual(encoded, JSON.parse(vector.text));

      const written = tempPath('keyring.json');
      await writeKeyringFile(written, encoded);
      assert.equal(readFileSync(written, 'utf8'), vector.text);
    });
  }

  it('creates the file with mode 0600', async () => {
    const path = tempPath('new.json');
    await writeKeyringFile(path, ['l3Hw/buaoyX48q+7nOB/NtZo9U3SHxeXAyDAPCMqyHw=']);
    assert.equal(mode(path), 0o600);
  });

  it('tightens an existing file to 0600', async () => {
    const path = tempPath('existing.json');
    writeFileSync(path, 'old content that is longer than the new one ..............................');
    chmodSync(path, 0o644);
    await writeKeyringFile(path, ['KMOlcksvyYLJo+dEV4smhg==']);
    assert.equal(mode(path), 0o600);
    assert.equal(readFileSync(path, 'utf8'), '[\n  "KMOlcksvyYLJo+dEV4smhg=="\n]');
  });

  it('writes an empty keyring as []', async () => {
    const path = tempPath('empty.json');
    await writeKeyringFile(path, []);
    assert.equal(readFileSync(path, 'utf8'), '[]');
  });

  it('removes duplicate keys on read', async () => {
    const path = tempPath('dup.json');
    writeFileSync(path, '["KMOlcksvyYLJo+dEV4smhg==", "KMOlcksvyYLJo+dEV4smhg=="]');
    assert.equal((await readKeyringFile(path)).length, 1);
  });

  it('reports a missing file as stat error', async () => {
    const path = join(dir, 'missing-keyring.json');
    await assertRejects(readKeyringFile(path), `stat ${path}: no such file or directory`);
  });

  it('reports undecodable JSON without its content', async () => {
    const path = tempPath('broken.json');
    writeFileSync(path, '["l3Hw/buaoyX48q+7nOB/NtZo9U3SHxeXAyDAPCMqyHw=",');
    await assert.rejects(readKeyringFile(path), (err: Error) => {
      assert.match(err.message, /^Failed to decode keyring file: invalid JSON/);
      assert.ok(!err.message.includes('l3Hw'), 'no key material in the message');
      return true;
    });
  });

  it('reports a non-array', async () => {
    const path = tempPath('object.json');
    writeFileSync(path, '{"keys": []}');
    await assertRejects(
      readKeyringFile(path),
      `Failed to decode keyring file: expected a JSON array of base64 strings in ${path}`,
    );
  });

  it('reports bad base64', async () => {
    const path = tempPath('bad-b64.json');
    writeFileSync(path, '["abc"]');
    await assertRejects(
      readKeyringFile(path),
      'Failed to decode key from keyring: illegal base64 data at input byte 0',
    );
  });

  it('reports an empty array', async () => {
    const path = tempPath('no-keys.json');
    writeFileSync(path, '[]');
    await assertRejects(readKeyringFile(path), 'Keyring file contains no keys');
  });

  it('reports a bad key size', async () => {
    const path = tempPath('short.json');
    writeFileSync(path, '["AAAA"]');
    await assertRejects(
      readKeyringFile(path),
      'Failed to restore keyring: key size must be 16, 24 or 32 bytes',
    );
  });

  it('reports a write failure', async () => {
    const path = join(dir, 'no-such-dir', 'keyring.json');
    await assertRejects(
      writeKeyringFile(path, []),
      `Failed to write keyring file: open ${path}: no such file or directory`,
    );
  });
});

describe('key file permissions', () => {
  it('warns about a group-readable file', async () => {
    const path = tempPath('loose.key');
    writeFileSync(path, 'x');
    chmodSync(path, 0o640);
    assert.equal(
      await keyFilePermissionsWarning(path),
      `Warning: '${path}' holds encryption keys and is readable by group or others (mode 0640); run 'chmod 600 ${path}'`,
    );
  });

  it('accepts a private file', async () => {
    const path = tempPath('tight.key');
    writeFileSync(path, 'x');
    chmodSync(path, 0o600);
    assert.equal(await keyFilePermissionsWarning(path), undefined);
  });

  it('ignores a missing file', async () => {
    assert.equal(await keyFilePermissionsWarning(join(dir, 'absent.key')), undefined);
  });
});

describe('tags file', () => {
  it('round-trips with sorted keys', async () => {
    const path = tempPath('tags.json');
    await writeTagsFile(path, { role: 'web', dc: 'lab-east', 'zone-id': 'z1' });
    assert.equal(
      readFileSync(path, 'utf8'),
      '{\n  "dc": "lab-east",\n  "role": "web",\n  "zone-id": "z1"\n}',
    );
    assert.equal(mode(path), 0o600);
    assert.deepEqual(await readTagsFile(path), { dc: 'lab-east', role: 'web', 'zone-id': 'z1' });
  });

  it('escapes HTML characters like Go', async () => {
    const path = tempPath('html.json');
    await writeTagsFile(path, { note: '<a&b>' });
    assert.equal(readFileSync(path, 'utf8'), '{\n  "note": "\\u003ca\\u0026b\\u003e"\n}');
    assert.deepEqual(await readTagsFile(path), { note: '<a&b>' });
  });

  it('writes no tags as {}', async () => {
    const path = tempPath('none.json');
    await writeTagsFile(path, {});
    assert.equal(readFileSync(path, 'utf8'), '{}');
  });

  it('keeps the mode of an existing file', async () => {
    const path = tempPath('shared-tags.json');
    writeFileSync(path, '{}');
    chmodSync(path, 0o644);
    await writeTagsFile(path, { a: 'b' });
    assert.equal(mode(path), 0o644);
  });

  it('returns undefined for a missing file', async () => {
    assert.equal(await readTagsFile(join(dir, 'no-tags.json')), undefined);
  });

  it('reports bad JSON', async () => {
    const path = tempPath('bad-tags.json');
    writeFileSync(path, '{"a": ');
    await assert.rejects(readTagsFile(path), /^InvalidArgumentError: Failed to decode tags file: /);
  });

  it('reports a non-string value', async () => {
    const path = tempPath('num-tags.json');
    writeFileSync(path, '{"a": 1}');
    await assertRejects(
      readTagsFile(path),
      `Failed to decode tags file: tag 'a' in ${path} is 1, expected a string`,
    );
  });
});
