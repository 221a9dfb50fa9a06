// Kubernetes' label key and value rules (k8s.io/apimachinery validate/content: IsLabelKey, which
// IsQualifiedName aliases, and IsLabelValue), with the same problem texts, because the Agones
// sidecar puts them verbatim into its INVALID_ARGUMENT messages. Each function returns the list of
// problems; an empty list means valid.

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;
const DNS1123_SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

const LABEL_KEY = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_KEY_MAX_LENGTH = 63;
const LABEL_KEY_MESSAGE = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

const LABEL_VALUE = `(${LABEL_KEY})?`;
const LABEL_VALUE_MAX_LENGTH = 63;
const LABEL_VALUE_MESSAGE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

const whole = (pattern: string): RegExp => new RegExp(`^${pattern}$`);
const DNS1123_SUBDOMAIN_RE = whole(DNS1123_SUBDOMAIN);
const LABEL_KEY_RE = whole(LABEL_KEY);
const LABEL_VALUE_RE = whole(LABEL_VALUE);

function regexError(message: string, pattern: string, ...examples: string[]): string {
  return `${message} (e.g. ${examples.map((e) => `'${e}', `).join(' or ')}regex used for validation is '${pattern}')`;
}

// Go measures strings in bytes.
const byteLength = (value: string): number => Buffer.byteLength(value, 'utf8');

function dns1123SubdomainProblems(value: string): string[] {
  const problems: string[] = [];
  if (byteLength(value) > DNS1123_SUBDOMAIN_MAX_LENGTH) problems.push(`must be no more than ${DNS1123_SUBDOMAIN_MAX_LENGTH} bytes`);
  if (!DNS1123_SUBDOMAIN_RE.test(value)) problems.push(regexError(DNS1123_SUBDOMAIN_MESSAGE, DNS1123_SUBDOMAIN, 'example.com'));
  return problems;
}

/** A "qualified name" (label or annotation key): an optional DNS subdomain prefix and '/', then a name of at most 63 characters. */
export function qualifiedNameProblems(value: string): string[] {
  const parts = value.split('/');
  if (parts.length > 2) {
    return [
      `a valid label key ${regexError(LABEL_KEY_MESSAGE, LABEL_KEY, 'MyName', 'my.name', '123-abc')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  const problems: string[] = [];
  const [prefix, name] = parts.length === 2 ? [parts[0]!, parts[1]!] : [undefined, parts[0]!];
  if (prefix !== undefined) {
    if (prefix.length === 0) problems.push('prefix part must be non-empty');
    else problems.push(...dns1123SubdomainProblems(prefix).map((p) => `prefix part ${p}`));
  }
  if (name.length === 0) problems.push('name part must be non-empty');
  else if (byteLength(name) > LABEL_KEY_MAX_LENGTH) problems.push(`name part must be no more than ${LABEL_KEY_MAX_LENGTH} bytes`);
  if (!LABEL_KEY_RE.test(name)) problems.push(`name part ${regexError(LABEL_KEY_MESSAGE, LABEL_KEY, 'MyName', 'my.name', '123-abc')}`);
  return problems;
}

/** A label value: empty, or at most 63 characters of the label-key alphabet. */
export function labelValueProblems(value: string): string[] {
  const problems: string[] = [];
  if (byteLength(value) > LABEL_VALUE_MAX_LENGTH) problems.push(`must be no more than ${LABEL_VALUE_MAX_LENGTH} bytes`);
  if (!LABEL_VALUE_RE.test(value)) problems.push(regexError(LABEL_VALUE_MESSAGE, LABEL_VALUE, 'MyValue', 'my_value', '12345'));
  return problems;
}
