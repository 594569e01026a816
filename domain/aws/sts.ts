/**
 * STS `AssumeRole`, the one STS call (domain/table/tenant-client.ts: a tenant's table credentials),
 * as a `fetch` request signed by domain/aws/signed-fetch.ts rather than through the STS client:
 * `@aws-sdk/client-sts` with the awsQuery/XML protocol parts of `@aws-sdk/core`, `@smithy/core` and
 * `@aws-sdk/xml-builder` weighed on the start-up of every HTTP function for this one call.
 *
 * STS speaks awsQuery: a form-encoded POST to `/` (`Action`, `Version`, then the input's members in
 * the model's order, lists as `<Name>.member.<n>`, keys and values URI-encoded as the SDK encodes
 * them), an XML answer, an error answer `<ErrorResponse><Error><Code>…</Code><Message>…</Message>`
 * named by its Code (so `Throttling` is retried by the SDK's classification, `AccessDenied` is not).
 * The endpoint is the regional one, the SDK v3 default.
 */
import { escapeUri } from '@smithy/core/protocols';
import { requestTo, signedFetch, type AwsService, type SignedFetchOptions } from '#domain/aws/signed-fetch.ts';

/** The members of the model's AssumeRoleRequest that we send (names as in the model). */
export interface AssumeRoleInput {
  RoleArn: string;
  RoleSessionName: string;
  DurationSeconds: number;
  Tags: { Key: string; Value: string }[];
}

/** What we read of AssumeRoleResponse (as the SDK's output: Expiration a Date). */
export interface AssumeRoleOutput {
  Credentials?: { AccessKeyId?: string; SecretAccessKey?: string; SessionToken?: string; Expiration?: Date };
}

/** The part of STS we use (a stand-in in tests). */
export interface StsApi {
  assumeRole(input: AssumeRoleInput): Promise<AssumeRoleOutput>;
}

export interface StsApiOptions extends SignedFetchOptions {
  /** Default `https://sts.<region>.amazonaws.com`. */
  endpoint?: string;
}

/** The form body the SDK's awsQuery serializer writes for `input`, in its order. */
export function assumeRoleQuery(input: AssumeRoleInput): string {
  const params: [string, string][] = [
    ['Action', 'AssumeRole'],
    ['Version', '2011-06-15'],
    ['RoleArn', input.RoleArn],
    ['RoleSessionName', input.RoleSessionName],
    ['DurationSeconds', String(input.DurationSeconds)],
  ];
  input.Tags.forEach((tag, i) => params.push([`Tags.member.${i + 1}.Key`, tag.Key], [`Tags.member.${i + 1}.Value`, tag.Value]));
  return params.map(([k, v]) => `${escapeUri(k)}=${escapeUri(v)}`).join('&');
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const decodeXml = (text: string) =>
  text.replace(/&(?:#x([0-9a-fA-F]{1,6})|#(\d{1,7})|([a-zA-Z]+));/g, (whole, hex?: string, dec?: string, name?: string) =>
    hex ? String.fromCodePoint(parseInt(hex, 16)) : dec ? String.fromCodePoint(parseInt(dec, 10)) : (ENTITIES[name!] ?? whole),
  );

/**
 * The raw content of the first `<name>` element in `xml`. STS's answers are flat, known shapes
 * (no CDATA, no element nested in one of the same name): a match is enough, no XML parser needed.
 */
function elementIn(xml: string | undefined, name: string): string | undefined {
  if (xml === undefined) return undefined;
  return new RegExp(`<${name}(?:\\s[^>]*)?>([\\s\\S]*?)</${name}>`).exec(xml)?.[1];
}
const textIn = (xml: string | undefined, name: string) => {
  const raw = elementIn(xml, name);
  return raw === undefined ? undefined : decodeXml(raw);
};

/** The credentials of an AssumeRole answer, as the SDK reads them. */
export function assumeRoleOutputOf(xml: string): AssumeRoleOutput {
  const block = elementIn(elementIn(xml, 'AssumeRoleResult'), 'Credentials');
  if (block === undefined) return {};
  const expiration = textIn(block, 'Expiration');
  const at = expiration === undefined ? undefined : new Date(expiration.trim());
  const fields = {
    AccessKeyId: textIn(block, 'AccessKeyId'),
    SecretAccessKey: textIn(block, 'SecretAccessKey'),
    SessionToken: textIn(block, 'SessionToken'),
    Expiration: at && !Number.isNaN(at.getTime()) ? at : undefined,
  };
  return { Credentials: Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) };
}

/** awsQuery's error answer: `<ErrorResponse><Error><Code>…</Code><Message>…</Message></Error>…`. */
export const queryErrorOf: AwsService['errorOf'] = (_res, body) => {
  const error = elementIn(body, 'Error');
  return { code: textIn(error, 'Code')?.trim(), message: textIn(error, 'Message') };
};

export function stsApi(options: StsApiOptions = {}): StsApi {
  const sts = signedFetch({ title: 'STS', signingName: 'sts', errorOf: queryErrorOf }, options);
  const endpoint = new URL(options.endpoint ?? `https://sts.${sts.region}.amazonaws.com`);
  return {
    async assumeRole(input) {
      const headers = { 'content-type': 'application/x-www-form-urlencoded' };
      const xml = await sts.send(requestTo(endpoint, 'POST', '/', headers, assumeRoleQuery(input)), (res) => res.text(), 'AssumeRole');
      return assumeRoleOutputOf(xml);
    },
  };
}
