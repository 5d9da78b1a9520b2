/**
 * Importing the adapter must not load the GCP client library (cold start); the default client factory
 * loads it on the first get.
 */
let mockLibraryLoads = 0;
const mockAccessSecretVersion = jest.fn((_request: { name: string }) =>
  Promise.resolve([{ payload: { data: Buffer.from('from-the-real-path') } }]),
);
jest.mock('@google-cloud/secret-manager', () => {
  mockLibraryLoads++;
  return {
    SecretManagerServiceClient: class {
      accessSecretVersion = mockAccessSecretVersion;
    },
  };
});

import { SecretRegistry } from '../../../shared/secrets';
import { SecretManagerSecretStore } from '../../../shared/adapters/secret-manager/secret-store';

it('loads @google-cloud/secret-manager only on the first get', async () => {
  const store = new SecretManagerSecretStore({ projectId: 'proj', registry: new SecretRegistry() });
  expect(mockLibraryLoads).toBe(0);

  await expect(store.get('neo4j-password')).resolves.toBe('from-the-real-path');
  await store.get('neo4j-password');

  expect(mockLibraryLoads).toBe(1);
  expect(mockAccessSecretVersion).toHaveBeenCalledWith({
    name: 'projects/proj/secrets/neo4j-password/versions/latest',
  });
});
