/**
 * File system errors → the `reason` label of failed points, and whether a
 * retry may help. A full disk can be freed and a descriptor limit passes; a
 * missing directory, a permission or a read-only mount is a setup problem
 * that the next batch will meet again (it is still tried: the file is
 * reopened per batch until it works).
 */
import { TributaryError, errorMessage } from '../../errors.ts';

const REASONS: Record<string, { reason: string; permanent: boolean }> = {
  ENOSPC: { reason: 'disk_full', permanent: false },
  EDQUOT: { reason: 'disk_full', permanent: false },
  EACCES: { reason: 'permission_denied', permanent: true },
  EPERM: { reason: 'permission_denied', permanent: true },
  ENOENT: { reason: 'directory_missing', permanent: true },
  ENOTDIR: { reason: 'directory_missing', permanent: true },
  EROFS: { reason: 'read_only', permanent: true },
  EISDIR: { reason: 'is_directory', permanent: true },
  EFBIG: { reason: 'file_too_large', permanent: true },
  EMFILE: { reason: 'too_many_files', permanent: false },
  ENFILE: { reason: 'too_many_files', permanent: false },
  EIO: { reason: 'io_error', permanent: false },
};

export function fileError(err: unknown): TributaryError {
  if (err instanceof TributaryError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  const known = code ? REASONS[code] : undefined;
  const message = errorMessage(err);
  return new TributaryError(known?.permanent ? 'TRIB_PERMANENT' : 'TRIB_RETRYABLE', message, { cause: err, reason: known?.reason ?? 'write_error' });
}
