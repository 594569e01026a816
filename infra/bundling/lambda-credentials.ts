/**
 * Stands in for `@aws-sdk/credential-provider-node` in the Lambda bundles (infra/crm-function.ts
 * BUNDLE_ALIASES): every client's default credentials come from the environment, where Lambda
 * puts the execution role's credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN). The full chain would take the same first link; its other links (profile
 * files, SSO, process, web identity, the instance metadata service) find nothing in Lambda.
 * Clients given credentials explicitly (a tenant's, DynamoDB Local's) never call it.
 */
export { fromEnv as defaultProvider } from '@aws-sdk/credential-provider-env';
