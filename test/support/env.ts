/**
 * Loaded into every test worker: Google client libraries must never probe the GCE metadata server
 * (169.254.169.254 / metadata.google.internal) from a test. Tests only talk to loopback.
 */
process.env['METADATA_SERVER_DETECTION'] = 'none';
