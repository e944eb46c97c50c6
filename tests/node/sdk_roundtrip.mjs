// Drives this project's Management API with Logto's own SDK (@logto/api).
// Input (environment): BASE_URL, CLIENT_ID, CLIENT_SECRET, API_INDICATOR.
// Output: one JSON object on stdout with what each call returned; tests/test_management_api_sdk.py checks it.
import { createManagementApi } from '@logto/api/management';

const { BASE_URL, CLIENT_ID, CLIENT_SECRET, API_INDICATOR } = process.env;
const { apiClient } = createManagementApi('default', {
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
  baseUrl: BASE_URL,
  apiIndicator: API_INDICATOR,
});

const out = {};
const call = async (label, promise) => {
  const { data, error, response } = await promise;
  out[label] = { status: response.status, data: data ?? null, error: error ?? null };
  if (!response.ok) {
    throw new Error(`${label}: HTTP ${response.status} ${JSON.stringify(error)}`);
  }
  return data;
};

try {
  const resource = await call(
    'createResource',
    apiClient.POST('/api/resources', { body: { name: 'SDK shop', indicator: 'https://sdk-shop.api' } }),
  );
  const scope = await call(
    'createScope',
    apiClient.POST('/api/resources/{resourceId}/scopes', {
      params: { path: { resourceId: resource.id } },
      body: { name: 'read:orders', description: 'Read orders' },
    }),
  );
  const role = await call(
    'createRole',
    apiClient.POST('/api/roles', {
      body: { name: 'SDK reader', description: 'Reads orders', type: 'MachineToMachine', scopeIds: [scope.id] },
    }),
  );
  const app = await call(
    'createApplication',
    apiClient.POST('/api/applications', { body: { name: 'SDK app', type: 'MachineToMachine' } }),
  );
  await call(
    'assignRole',
    apiClient.POST('/api/applications/{applicationId}/roles', {
      params: { path: { applicationId: app.id } },
      body: { roleIds: [role.id] },
    }),
  );
  await call(
    'replaceRoles',
    apiClient.PUT('/api/applications/{applicationId}/roles', {
      params: { path: { applicationId: app.id } },
      body: { roleIds: [role.id] },
    }),
  );
  await call('listResources', apiClient.GET('/api/resources', { params: { query: { includeScopes: 'true' } } }));
  await call(
    'listScopes',
    apiClient.GET('/api/resources/{resourceId}/scopes', { params: { path: { resourceId: resource.id } } }),
  );
  await call('listRoles', apiClient.GET('/api/roles', { params: { query: { search_params: { search: 'SDK%' } } } }));
  await call(
    'listApplications',
    apiClient.GET('/api/applications', { params: { query: { types: ['MachineToMachine'], page: 1, page_size: 50 } } }),
  );
  await call(
    'listApplicationRoles',
    apiClient.GET('/api/applications/{applicationId}/roles', { params: { path: { applicationId: app.id } } }),
  );
  await call(
    'listRoleApplications',
    apiClient.GET('/api/roles/{id}/applications', { params: { path: { id: role.id } } }),
  );
  await call(
    'listSecrets',
    apiClient.GET('/api/applications/{id}/secrets', { params: { path: { id: app.id } } }),
  );
  await call(
    'deleteRoleLink',
    apiClient.DELETE('/api/roles/{id}/applications/{applicationId}', {
      params: { path: { id: role.id, applicationId: app.id } },
    }),
  );
  const logs = await call(
    'listLogs',
    apiClient.GET('/api/logs', { params: { query: { applicationId: CLIENT_ID, page: 1, page_size: 5 } } }),
  );
  await call('getLog', apiClient.GET('/api/logs/{id}', { params: { path: { id: logs[0].id } } }));
  const keyType = { keyType: 'private-keys' };
  await call('listKeys', apiClient.GET('/api/configs/oidc/{keyType}', { params: { path: keyType } }));
  await call(
    'rotateKeys',
    apiClient.POST('/api/configs/oidc/{keyType}/rotate', {
      params: { path: keyType },
      body: { signingKeyAlgorithm: 'RSA' },
    }),
  );
  const staged = await call(
    'stageKey',
    apiClient.POST('/api/configs/oidc/{keyType}/rotate', {
      params: { path: keyType },
      body: { signingKeyAlgorithm: 'EC', rotationGracePeriod: 3600 },
    }),
  );
  const next = staged.find((key) => key.status === 'Next');
  await call(
    'deleteKey',
    apiClient.DELETE('/api/configs/oidc/{keyType}/{keyId}', { params: { path: { ...keyType, keyId: next.id } } }),
  );
  await call('listKeysAfter', apiClient.GET('/api/configs/oidc/{keyType}', { params: { path: keyType } }));
  out.ok = true;
} catch (err) {
  out.ok = false;
  out.failure = String(err && err.stack ? err.stack : err);
}
process.stdout.write(JSON.stringify(out));
