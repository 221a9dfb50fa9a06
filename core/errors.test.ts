import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { AppError, ErrorCode, IllegalTransitionError } from './errors.js';
import { httpStatusFor, RequestErrorCode } from './http-errors.js';

describe('error codes', () => {
  it('are each documented in docs/errors.md, and the document lists no others', () => {
    const [own, requests] = readFileSync('docs/errors.md', 'utf8').split('\n## Request errors\n');
    const codes = (text: string | undefined) => [...(text ?? '').matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]).sort();
    expect(codes(own)).toEqual(Object.values(ErrorCode).sort());
    expect(codes(requests)).toEqual(Object.values(RequestErrorCode).sort());
  });

  it('carry their code, name and cause', () => {
    const cause = new Error('disk on fire');
    const err = new AppError(ErrorCode.PROCESS_START_FAILED, 'could not start', { cause });
    expect(err.code).toBe('PROCESS_START_FAILED');
    expect(err.name).toBe('AppError');
    expect(err.cause).toBe(cause);
    expect(new IllegalTransitionError('gs', 'Unhealthy', 'Ready').name).toBe('IllegalTransitionError');
  });

  it('map to HTTP statuses in one place', () => {
    expect(httpStatusFor(ErrorCode.GS_NOT_FOUND)).toBe(404);
    expect(httpStatusFor(ErrorCode.VERSION_CONFLICT)).toBe(409);
    expect(httpStatusFor(ErrorCode.PROCESS_START_FAILED)).toBe(500);
  });
});
