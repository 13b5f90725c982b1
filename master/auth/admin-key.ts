/**
 * The cluster admin key's file: read when it exists, created with a random key (mode 0600,
 * never overwriting) when it does not. The key itself is never logged.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { newApiKey } from '../../shared/auth.js';
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';

/** Shortest admin key accepted from a file someone wrote by hand. */
const MIN_KEY_CHARS = 16;

export async function readOrCreateAdminKey(file: string, logger: Logger): Promise<string> {
  const existing = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new AppError('CONFIG_INVALID', `adminKeyFile ${file} cannot be read: ${err.message}`);
  });
  if (existing !== undefined) {
    const key = existing.trim();
    if (key.length < MIN_KEY_CHARS || !/^[\x21-\x7e]+$/.test(key))
      throw new AppError(
        'CONFIG_INVALID',
        `adminKeyFile ${file} must hold one key of at least ${MIN_KEY_CHARS} printable characters without spaces; delete it to have a new one made`,
      );
    return key;
  }
  const { key } = newApiKey();
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    // `wx`: two masters racing on one file never overwrite each other's key.
    await writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readOrCreateAdminKey(file, logger);
    throw new AppError(
      'CONFIG_INVALID',
      `adminKeyFile ${file} cannot be created: ${(err as Error).message}`,
    );
  }
  logger.info({ file }, 'admin key created');
  return key;
}
