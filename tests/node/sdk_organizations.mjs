// Drives the organization setup of this project's Management API with Logto's own SDK (@logto/api):
// an API resource scope and an organization scope on one organization role, an app made a member of an
// organization and given that role, then the reads a Logto user makes, and one refused write.
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
const record = async (label, promise) => {
  const { data, error, response } = await promise;
  out[label] = { status: response.status, data: data ?? null, error: error ?? null };
  return { data, response };
};
const call = async (label, promise) => {
  const { data, response } = await record(label, promise);
  if (!response.ok) {
    throw new Error(`${label}: HTTP ${response.status} ${JSON.stringify(out[label].error)}`);
  }
  return data;
};

try {
  const resource = await call(
    'createResource',
    apiClient.POST('/api/resources', { body: { name: 'SDK reports', indicator: 'https://sdk-reports.api' } }),
  );
  const resourceScope = await call(
    'createResourceScope',
    apiClient.POST('/api/resources/{resourceId}/scopes', {
      params: { path: { resourceId: resource.id } },
      body: { name: 'export:reports', description: 'Export reports' },
    }),
  );
  const organizationScope = await call(
    'createOrganizationScope',
    apiClient.POST('/api/organization-scopes', { body: { name: 'read:members', description: 'Read members' } }),
  );
  const role = await call(
    'createOrganizationRole',
    apiClient.POST('/api/organization-roles', {
      body: {
        name: 'SDK tenant robot',
        type: 'MachineToMachine',
        organizationScopeIds: [organizationScope.id],
        resourceScopeIds: [resourceScope.id],
      },
    }),
  );
  const app = await call(
    'createApplication',
    apiClient.POST('/api/applications', { body: { name: 'SDK tenant app', type: 'MachineToMachine' } }),
  );
  const organization = await call(
    'createOrganization',
    apiClient.POST('/api/organizations', { body: { name: 'SDK Acme', customData: { plan: 'pro' } } }),
  );
  const id = organization.id;
  await call(
    'addMember',
    apiClient.POST('/api/organizations/{id}/applications', {
      params: { path: { id } },
      body: { applicationIds: [app.id] },
    }),
  );
  await call(
    'replaceMembers',
    apiClient.PUT('/api/organizations/{id}/applications', {
      params: { path: { id } },
      body: { applicationIds: [app.id] },
    }),
  );
  await call(
    'assignMemberRoles',
    apiClient.POST('/api/organizations/{id}/applications/{applicationId}/roles', {
      params: { path: { id, applicationId: app.id } },
      body: { organizationRoleIds: [role.id] },
    }),
  );
  await call(
    'assignRolesInBulk',
    apiClient.POST('/api/organizations/{id}/applications/roles', {
      params: { path: { id } },
      body: { applicationIds: [app.id], organizationRoleIds: [role.id] },
    }),
  );
  await call(
    'listMembers',
    apiClient.GET('/api/organizations/{id}/applications', { params: { path: { id }, query: { page: 1 } } }),
  );
  await call(
    'listMemberRoles',
    apiClient.GET('/api/organizations/{id}/applications/{applicationId}/roles', {
      params: { path: { id, applicationId: app.id } },
    }),
  );
  await call(
    'listApplicationOrganizations',
    apiClient.GET('/api/applications/{id}/organizations', { params: { path: { id: app.id } } }),
  );
  await call('listOrganizations', apiClient.GET('/api/organizations', { params: { query: { q: 'SDK' } } }));
  await call('getOrganization', apiClient.GET('/api/organizations/{id}', { params: { path: { id } } }));
  await call('listOrganizationRoles', apiClient.GET('/api/organization-roles', { params: { query: { page: 1 } } }));
  await call(
    'listRoleResourceScopes',
    apiClient.GET('/api/organization-roles/{id}/resource-scopes', { params: { path: { id: role.id } } }),
  );
  await call(
    'listRoleScopes',
    apiClient.GET('/api/organization-roles/{id}/scopes', { params: { path: { id: role.id } } }),
  );
  // An organization role never holds a Management API scope, even for a caller holding `all`.
  const resources = await call(
    'listResources',
    apiClient.GET('/api/resources', { params: { query: { includeScopes: 'true' } } }),
  );
  const management = resources.find((r) => r.indicator === API_INDICATOR);
  const all = management.scopes.find((s) => s.name === 'all');
  await record(
    'addManagementScope',
    apiClient.POST('/api/organization-roles/{id}/resource-scopes', {
      params: { path: { id: role.id } },
      body: { scopeIds: [all.id] },
    }),
  );
  out.ok = true;
} catch (err) {
  out.ok = false;
  out.failure = String(err && err.stack ? err.stack : err);
}
process.stdout.write(JSON.stringify(out));
