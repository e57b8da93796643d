import { Parser as AsyncApiParser } from '@asyncapi/parser';
import { validate as validateOpenApi } from '@readme/openapi-parser';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import YAML from 'yaml';

export const SPEC_TYPES = ['OPENAPI', 'ODATA', 'ASYNCAPI'] as const;
export const SPEC_FORMATS = ['JSON', 'YAML', 'XML'] as const;
export type SpecType = (typeof SPEC_TYPES)[number];
export type SpecFormat = (typeof SPEC_FORMATS)[number];

export type SpecVerdict = { ok: true; summary: string } | { ok: false; message: string };

const fail = (message: string): SpecVerdict => ({ ok: false, message });

/** Which formats each type can come in. */
const FORMATS: Record<SpecType, SpecFormat[]> = { OPENAPI: ['JSON', 'YAML'], ASYNCAPI: ['JSON', 'YAML'], ODATA: ['XML', 'JSON'] };

/** Parses `data` as `format`; the error names the format and, where known, the line. */
function parse(format: SpecFormat, data: string): { value?: unknown; error?: string } {
  if (format === 'JSON') {
    try {
      return { value: JSON.parse(data) };
    } catch (error) {
      return { error: `not valid JSON: ${(error as Error).message}` };
    }
  }
  if (format === 'YAML') {
    try {
      const doc = YAML.parseDocument(data, { prettyErrors: false });
      if (doc.errors.length) return { error: `not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}` };
      return { value: doc.toJS() };
    } catch (error) {
      return { error: `not valid YAML: ${(error as Error).message}` };
    }
  }
  const result = XMLValidator.validate(data);
  if (result !== true) return { error: `not well-formed XML: ${result.err.msg} (line ${result.err.line})` };
  return { value: new XMLParser({ ignoreAttributes: false, removeNSPrefix: true }).parse(data) };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

async function openApi(document: Record<string, unknown>): Promise<SpecVerdict> {
  const version = typeof document.openapi === 'string' ? document.openapi : document.swagger;
  if (typeof version !== 'string' || !/^(2\.0|3\.[01]\.\d+)$/.test(version)) {
    return fail('not an OpenAPI document: expected "openapi": "3.0.x" or "3.1.x", or "swagger": "2.0"');
  }
  const result = await validateOpenApi(structuredClone(document) as never, { resolve: { external: false } });
  if (!result.valid) {
    const first = result.errors[0];
    return fail(`invalid OpenAPI ${version}: ${first?.message ?? 'validation failed'}`);
  }
  return { ok: true, summary: `OpenAPI ${version}` };
}

/** External references are not followed: the resolver answers them with a marker instead of fetching. */
const noExternalRefs = ['file', 'http', 'https'].map((schema) => ({
  schema,
  order: 1,
  read: () => JSON.stringify('external $ref is not resolved by Meridian'),
}));
let asyncApiParser: AsyncApiParser | undefined;

async function asyncApi(data: string, document: Record<string, unknown>): Promise<SpecVerdict> {
  if (typeof document.asyncapi !== 'string') return fail('not an AsyncAPI document: expected an "asyncapi" version field');
  asyncApiParser ??= new AsyncApiParser({ __unstable: { resolver: { resolvers: noExternalRefs } } });
  const { document: parsed, diagnostics } = await asyncApiParser.parse(data);
  const errors = diagnostics.filter((d) => d.severity === 0);
  if (!parsed || errors.length) {
    const first = errors[0];
    const pointer = first?.path.length ? ` at /${first.path.join('/')}` : '';
    return fail(`invalid AsyncAPI ${document.asyncapi}: ${first?.message ?? 'parsing failed'}${pointer}`);
  }
  return { ok: true, summary: `AsyncAPI ${document.asyncapi}` };
}

function odata(format: SpecFormat, document: Record<string, unknown>): SpecVerdict {
  if (format === 'XML') {
    const edmx = document.Edmx;
    if (!isObject(edmx)) return fail('not an OData EDMX document: the root element must be edmx:Edmx');
    const services = edmx.DataServices;
    if (!isObject(services) || !('Schema' in services)) return fail('not an OData EDMX document: edmx:DataServices must contain a Schema');
    return { ok: true, summary: `OData EDMX ${String(edmx['@_Version'] ?? '')}`.trim() };
  }
  if (typeof document.$Version !== 'string') return fail('not an OData JSON CSDL document: expected a "$Version" field');
  const schemas = Object.entries(document).filter(([key, value]) => !key.startsWith('$') && isObject(value));
  if (schemas.length === 0) return fail('not an OData JSON CSDL document: it declares no schema');
  return { ok: true, summary: `OData CSDL JSON ${document.$Version}` };
}

/**
 * Validates a spec with maintained parsers: OpenAPI 2/3.x (@readme/openapi-parser), AsyncAPI 2/3
 * (@asyncapi/parser), OData as well-formed EDMX XML or JSON CSDL. The message says what is wrong.
 */
export async function validateSpec(type: SpecType, format: SpecFormat, data: string): Promise<SpecVerdict> {
  if (!FORMATS[type].includes(format)) return fail(`a ${type} spec comes as ${FORMATS[type].join(' or ')}, not ${format}`);
  if (data.trim() === '') return fail('the spec is empty');
  const { value, error } = parse(format, data);
  if (error) return fail(error);
  if (!isObject(value)) return fail(`the spec must be a ${format} document with an object at its root`);
  switch (type) {
    case 'OPENAPI':
      return openApi(value);
    case 'ASYNCAPI':
      return asyncApi(data, value);
    case 'ODATA':
      return odata(format, value);
  }
}
