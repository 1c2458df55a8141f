/** Error codes owned by the config layer. Codes are stable: never rename one, only add. */
import { defineCodes } from './define.ts';

export const configCodes = defineCodes({
  PCL_CONFIG_READ_FAILED: {
    summary: 'A configuration file or directory could not be read.',
    fix: 'Check that the path exists and is readable by the Portcullis process (a ConfigMap mount must be mounted).',
  },
  PCL_CONFIG_YAML_SYNTAX: {
    summary: 'A document is not valid YAML (or JSON); it was skipped, the other documents still load.',
    fix: 'Fix the YAML at the line and column shown (indentation, an unclosed quote or bracket, a duplicate key).',
  },
  PCL_CONFIG_NOT_AN_OBJECT: {
    summary: 'A document is not a mapping with apiVersion, kind and metadata.',
    fix: 'Each YAML document must be one Kubernetes object; remove stray scalars or lists between `---` separators.',
  },
  PCL_CONFIG_REQUIRED: {
    summary: 'A required field is missing (Kubernetes: `Required value`).',
    fix: 'Add the field named in the message; the resource is left out until it is present.',
  },
  PCL_CONFIG_UNKNOWN_FIELD: {
    summary: "A field is not part of the kind's schema (unknown or misspelt).",
    fix: 'Rename the field to the suggestion in the message, or remove it. Portcullis rejects unknown fields so typos never silently weaken a policy.',
  },
  PCL_CONFIG_TYPE: {
    summary: 'A field has the wrong type (for example a number where a string is expected).',
    fix: 'Write the value with the type named in the message; quote numbers and booleans that must be strings ("443", "true").',
  },
  PCL_CONFIG_ENUM: {
    summary: 'A field has a value outside its allowed set (Kubernetes: `Unsupported value`).',
    fix: 'Use one of the supported values listed in the message; values are case-sensitive.',
  },
  PCL_CONFIG_RANGE: {
    summary: 'A number is outside its allowed range.',
    fix: 'Use a value within the minimum and maximum given in the message.',
  },
  PCL_CONFIG_SIZE: {
    summary: 'A string, list or map is too short or too long.',
    fix: 'Shorten or lengthen the value to the limit named in the message (it mirrors the CRD schema).',
  },
  PCL_CONFIG_PATTERN: {
    summary: 'A string does not have the required format.',
    fix: 'Rewrite the value to match the format described in the message (DNS names, label values, IP addresses...).',
  },
  PCL_CONFIG_DUPLICATE_VALUE: {
    summary: 'A list that must hold unique entries (or unique keys) has a duplicate (Kubernetes: `Duplicate value`).',
    fix: 'Remove or rename the duplicate entry named in the message.',
  },
  PCL_CONFIG_EXCLUSIVE_FIELDS: {
    summary: 'More than one of a set of mutually exclusive fields is set.',
    fix: 'Keep only one of the fields named in the message.',
  },
  PCL_CONFIG_API_VERSION: {
    summary: 'A known kind is written with an apiVersion Portcullis does not accept.',
    fix: 'Use one of the accepted apiVersions listed in the message.',
  },
  PCL_CONFIG_IGNORED_KIND: {
    summary: 'A document of a kind Portcullis does not act on was listed as ignored.',
    fix: 'Nothing to do if the document is meant for another controller; otherwise check its kind and apiVersion.',
  },
  PCL_CONFIG_DUPLICATE_RESOURCE: {
    summary: 'Two documents define the same kind/namespace/name; the later one was left out.',
    fix: 'Remove one of the two documents or give them different names or namespaces.',
  },
  PCL_CONFIG_KEPT_LAST_GOOD: {
    summary: "A resource's new version is invalid, so its last good version stays in force.",
    fix: 'Fix the errors reported for the resource; the new version is applied on the next reload that validates.',
  },
  PCL_CONFIG_RULE_FAILED: {
    summary: 'A semantic validation rule failed unexpectedly; the document was refused so nothing unchecked applies.',
    fix: 'This is a Portcullis bug: report it with the document that triggered it.',
  },
  PCL_SETTINGS_READ_FAILED: {
    summary: 'The settings file (portcullis.yaml or --settings) could not be read; defaults are used.',
    fix: 'Check the path given to --settings and that the file is readable.',
  },
  PCL_SETTINGS_YAML_SYNTAX: {
    summary: 'The settings file is not valid YAML; defaults are used for every setting.',
    fix: 'Fix the YAML at the line and column shown.',
  },
  PCL_SETTINGS_UNKNOWN_FIELD: {
    summary: 'The settings file has a field Portcullis does not know (unknown or misspelt); it is ignored.',
    fix: 'Rename the field to the suggestion in the message, or remove it.',
  },
  PCL_SETTINGS_INVALID: {
    summary: 'A setting has an invalid value; the default for that setting is used instead.',
    fix: 'Correct the value as the message describes (types, allowed values, CIDR syntax).',
  },
  PCL_SETTINGS_ENV_INVALID: {
    summary: 'An environment variable read by Portcullis has an invalid entry; that entry is ignored.',
    fix: 'Write PERMIT_CROSS_NAMESPACE_RESOURCE_ACCESS as comma-separated `namespace/serviceaccount` pairs.',
  },
  PCL_CONFIG_FILE_TOO_LARGE: {
    summary: 'A configuration file is larger than the `configLimits.maxFileBytes` setting; it was not parsed.',
    fix: 'Split the file into several smaller ones, or raise configLimits.maxFileBytes in portcullis.yaml if the size is expected.',
  },
  PCL_CONFIG_TOO_MANY_DOCUMENTS: {
    summary:
      'A configuration file holds more YAML documents than the `configLimits.maxDocumentsPerFile` setting; it was not loaded.',
    fix: 'Split the file, or raise configLimits.maxDocumentsPerFile in portcullis.yaml.',
  },
  PCL_CONFIG_TOO_MANY_KEYS: {
    summary:
      'A YAML mapping holds more keys than the `configLimits.maxKeysPerMapping` setting; its document was not loaded.',
    fix: 'No Kubernetes object needs that many keys in one mapping: remove the generated keys, or raise configLimits.maxKeysPerMapping.',
  },
  PCL_CONFIG_PARSE_TIMEOUT: {
    summary:
      'Parsing a configuration file took longer than the `configLimits.parseTimeoutSeconds` setting; the parse was stopped and the file not loaded.',
    fix: 'Simplify or split the file (deep nesting, very many keys or documents), or raise configLimits.parseTimeoutSeconds.',
  },
  PCL_CONFIG_PARSE_FAILED: {
    summary:
      'The parser stopped on a configuration file (for example it ran out of its memory limit); the file was not loaded.',
    fix: 'Make the file smaller or simpler; the message names the file and what the parser reported.',
  },
});
