import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { validateSpec } from '../specs/validate.js';
import { asyncApi26, asyncApi30Yaml, odataCsdlJson, odataEdmx, openApi30, openApi30Yaml, openApi31, swagger20 } from './fixtures/specs.js';

const json = (value: unknown) => JSON.stringify(value);

describe('spec validation', () => {
  it.each([
    ['OpenAPI 3.0 JSON', 'OPENAPI', 'JSON', json(openApi30), 'OpenAPI 3.0.3'],
    ['OpenAPI 3.0 YAML', 'OPENAPI', 'YAML', openApi30Yaml, 'OpenAPI 3.0.3'],
    ['OpenAPI 3.1 JSON', 'OPENAPI', 'JSON', json(openApi31), 'OpenAPI 3.1.0'],
    ['Swagger 2.0', 'OPENAPI', 'JSON', json(swagger20), 'OpenAPI 2.0'],
    ['AsyncAPI 2.6 JSON', 'ASYNCAPI', 'JSON', json(asyncApi26), 'AsyncAPI 2.6.0'],
    ['AsyncAPI 3.0 YAML', 'ASYNCAPI', 'YAML', asyncApi30Yaml, 'AsyncAPI 3.0.0'],
    ['OData EDMX', 'ODATA', 'XML', odataEdmx, 'OData EDMX 4.0'],
    ['OData JSON CSDL', 'ODATA', 'JSON', json(odataCsdlJson), 'OData CSDL JSON 4.01'],
  ] as const)('accepts %s', async (_title, type, format, data, summary) => {
    expect(await validateSpec(type, format, data)).toEqual({ ok: true, summary });
  });

  const { paths: _paths, ...noPaths } = openApi30;
  const { info: _info, ...noInfo } = openApi30;
  it.each([
    ['broken JSON', 'OPENAPI', 'JSON', '{"openapi": "3.0.3",', /^not valid JSON/],
    ['broken YAML', 'OPENAPI', 'YAML', 'openapi: 3.0.3\ninfo: [unclosed', /^not valid YAML/],
    ['OpenAPI without paths', 'OPENAPI', 'JSON', json(noPaths), /invalid OpenAPI 3\.0\.3: .*paths/],
    ['OpenAPI without info', 'OPENAPI', 'JSON', json(noInfo), /invalid OpenAPI 3\.0\.3: .*info/],
    ['no OpenAPI version', 'OPENAPI', 'JSON', json({ info: {}, paths: {} }), /not an OpenAPI document/],
    ['AsyncAPI with an unknown version', 'ASYNCAPI', 'YAML', 'asyncapi: 9.9.9\ninfo:\n  title: x\n  version: 1.0.0\n', /invalid AsyncAPI 9\.9\.9: Version "9\.9\.9" is not supported/],
    ['OPENAPI given as XML', 'OPENAPI', 'XML', odataEdmx, /a OPENAPI spec comes as JSON or YAML, not XML/],
    ['ODATA given as YAML', 'ODATA', 'YAML', 'a: 1', /a ODATA spec comes as XML or JSON, not YAML/],
    ['JSON declared but YAML given', 'OPENAPI', 'JSON', openApi30Yaml, /^not valid JSON/],
    ['XML that is not well-formed', 'ODATA', 'XML', '<edmx:Edmx><a></edmx:Edmx>', /^not well-formed XML/],
    ['XML that is not EDMX', 'ODATA', 'XML', '<root/>', /root element must be edmx:Edmx/],
    ['an empty spec', 'OPENAPI', 'JSON', '  ', /the spec is empty/],
    ['a JSON array', 'ASYNCAPI', 'JSON', '[1,2]', /object at its root/],
  ] as const)('rejects %s with a useful message', async (_title, type, format, data, message) => {
    const verdict = await validateSpec(type, format, data);
    expect(verdict.ok).toBe(false);
    expect(verdict.ok ? '' : verdict.message).toMatch(message);
  });

  it('never fetches external references (no SSRF through $ref)', async () => {
    let hits = 0;
    const server = http.createServer((_req, res) => {
      hits++;
      res.end('{"type":"object"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const ref = `http://127.0.0.1:${(server.address() as AddressInfo).port}/schema.json`;
    try {
      await validateSpec('OPENAPI', 'JSON', json({ ...openApi30, paths: { '/x': { $ref: ref } } }));
      await validateSpec('ASYNCAPI', 'JSON', json({ ...asyncApi26, channels: { a: { subscribe: { message: { payload: { $ref: ref } } } } } }));
    } finally {
      server.close();
    }
    expect(hits).toBe(0);
  });
});
