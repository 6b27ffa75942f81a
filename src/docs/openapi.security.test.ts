import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from './openapi.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- walking a JSON document

const doc = buildOpenApiDocument() as unknown as Json;
const op = (path: string, method: string): Json => doc.paths[path][method] as Json;

describe('the OpenAPI document describes the hardening', () => {
  it.each([
    ['/api/auth/register', 'post'],
    ['/api/auth/login', 'post'],
    ['/api/auth/refresh', 'post'],
  ])('%s documents 429 RATE_LIMITED with Retry-After', (path, method) => {
    const response = op(path, method).responses['429'] as Json;
    expect(response.headers['Retry-After']).toEqual({ $ref: '#/components/headers/Retry-After' });
    expect(JSON.stringify(response.content)).toContain('RATE_LIMITED');
  });

  it.each([
    ['/api/auth/register', 'post'],
    ['/api/auth/login', 'post'],
    ['/api/auth/refresh', 'post'],
    ['/api/auth/logout', 'post'],
    ['/health/live', 'get'],
    ['/health/ready', 'get'],
    ['/openapi.json', 'get'],
    ['/docs', 'get'],
  ])('%s is marked public with security: []', (path, method) => {
    expect(op(path, method).security).toEqual([]);
  });

  it('/metrics documents its optional token, 401 and 404', () => {
    const metrics = op('/metrics', 'get');
    expect(metrics.security).toEqual([{}, { metricsToken: [] }]);
    expect(Object.keys(metrics.responses as Json)).toEqual(expect.arrayContaining(['401', '404']));
  });

  it('every 401 carries WWW-Authenticate', () => {
    for (const [path, item] of Object.entries(doc.paths as Json)) {
      for (const [method, operation] of Object.entries(item as Json)) {
        const unauthorized = (operation as Json).responses?.['401'] as Json | undefined;
        if (unauthorized) expect(unauthorized.headers['WWW-Authenticate'], `${method} ${path}`).toBeDefined();
      }
    }
  });

  it('Problem allows the requestId that 5xx answers carry', () => {
    expect(doc.components.schemas.Problem.properties.requestId).toMatchObject({ type: 'string' });
  });

  it('list operations document 400 INVALID_CURSOR', () => {
    for (const path of ['/api/products', '/api/orders']) expect(JSON.stringify(op(path, 'get').responses['400'])).toContain('INVALID_CURSOR');
  });

  it('text fields state the NUL and one-line rules as patterns the server applies', () => {
    const oneLine = new RegExp(doc.components.schemas.RegisterRequest.properties.name.pattern as string, 'u');
    expect(oneLine.test('Ann Lee')).toBe(true);
    for (const bad of ['Ann\nLee', 'Ann\u0000', 'Ann\tLee', 'Ann\u202ELee', 'Ann\u200BLee', 'Ann\uFEFFLee', 'Ann\u2060Lee', 'Ann\u00ADLee']) expect(oneLine.test(bad)).toBe(false);
    // Zero width joiner and non-joiner stay allowed (emoji sequences, Persian, Indic scripts).
    for (const good of ['Ada \u{1F469}\u200D\u{1F4BB}', '\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645']) expect(oneLine.test(good)).toBe(true);
    const productName = new RegExp(doc.components.schemas.CreateProductRequest.properties.name.pattern as string, 'u');
    expect(productName.test('Mug')).toBe(true);
    expect(productName.test(' ')).toBe(false);
    expect(productName.test('Mug\r\n')).toBe(false);
    // The one character that makes a name not blank is checked as well as the others.
    for (const bad of ['Mug\u200BCup', 'Mug\u202Eder', 'a\u0007b']) expect(productName.test(bad)).toBe(false);
    const multiLine = new RegExp(doc.components.schemas.CreateProductRequest.properties.description.pattern as string, 'u');
    expect(multiLine.test('two\nlines')).toBe(true);
    expect(multiLine.test('a\u0000b')).toBe(false);
    expect(multiLine.test('a\u001b[2Jb')).toBe(false);
    expect(multiLine.test('a\u2067b')).toBe(false);
    expect(doc.components.schemas.RegisterRequest.required).toEqual(['email', 'password']);
  });

  it('the merged-quantity rule of an order is stated on PlaceOrderRequest', () => {
    expect(doc.components.schemas.PlaceOrderRequest['x-merged-quantity-maximum']).toBe(1000);
    expect(doc.components.schemas.PlaceOrderRequest.description).toMatch(/merged quantity/);
  });
});
