/** The mapping from errors the framework's middleware raises to problem codes, whatever field carries the status. */
import {
  bodyErrorToGraphmillError,
  isRequestError,
  requestBodyRefusal,
} from '../../../shared/http/body-errors';
import { REQUEST_BYTES_CEILING, requestBytesLimit } from '../../../shared/http/limits';

describe('bodyErrorToGraphmillError', () => {
  it.each([
    [{ status: 413 }, 'content_too_large'],
    [{ statusCode: 413 }, 'content_too_large'],
    [{ statusCode: 415 }, 'unsupported_media_type'],
    [{ status: 400 }, 'bad_request'],
    [{ status: 400, type: 'entity.too.large' }, 'content_too_large'],
    [{ status: 415, type: 'charset.unsupported' }, 'unsupported_media_type'],
    [{ status: 400, type: 'entity.parse.failed' }, 'bad_request'],
  ])('%j -> %s', (err, code) => {
    expect(isRequestError(err)).toBe(true);
    expect(bodyErrorToGraphmillError(err).code).toBe(code);
  });

  it('leaves server errors and non-errors to Express', () => {
    expect(isRequestError({ statusCode: 500 })).toBe(false);
    expect(isRequestError(new Error('boom'))).toBe(false);
    expect(isRequestError(undefined)).toBe(false);
  });
});

describe('requestBodyRefusal', () => {
  it('refuses any content encoding but identity, and a declared length above the limit', () => {
    expect(requestBodyRefusal({ 'content-length': '5000' }, 4096)?.code).toBe('content_too_large');
    expect(requestBodyRefusal({ 'content-length': '4096' }, 4096)).toBeUndefined();
    expect(requestBodyRefusal({ 'content-encoding': 'GZip ' })?.code).toBe('unsupported_media_type');
    expect(requestBodyRefusal({ 'content-length': String(10 * 1024 * 1024 + 1) })?.code).toBe(
      'content_too_large',
    );
    expect(requestBodyRefusal({ 'content-encoding': 'identity', 'content-length': '10' })).toBeUndefined();
    expect(requestBodyRefusal({})).toBeUndefined();
  });
});

describe('requestBytesLimit', () => {
  it('reads MAX_REQUEST_BYTES with the configuration default; a value the configuration refuses leaves the ceiling', () => {
    expect(requestBytesLimit({})).toBe(64 * 1024);
    expect(requestBytesLimit({ MAX_REQUEST_BYTES: ' ' })).toBe(64 * 1024);
    expect(requestBytesLimit({ MAX_REQUEST_BYTES: '4096' })).toBe(4096);
    expect(requestBytesLimit({ MAX_REQUEST_BYTES: 'lots' })).toBe(REQUEST_BYTES_CEILING);
    expect(requestBytesLimit({ MAX_REQUEST_BYTES: String(REQUEST_BYTES_CEILING + 1) })).toBe(
      REQUEST_BYTES_CEILING,
    );
  });
});
